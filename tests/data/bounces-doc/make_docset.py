#!/usr/bin/python3
"""
NAME
    make_docset.py - build the documentation-derived bounce set (tests/data/bounces-doc)

SYNOPSIS
    /usr/bin/python3 tests/data/bounces-doc/make_docset.py

DESCRIPTION
    Writes one .eml per SAMPLES entry and manifest.tsv (file, recipient,
    reason, hard, source) into this directory. Each message is built the
    way its MTA formats a bounce (the FORMAT functions below name the
    template or source they follow) around a reply text taken from the
    MTA's or provider's own documentation or binaries (the source column).
    None is copied from a corpus sample or from sisimai's test suites.

    Labels follow the convention of ../shared/corpus/bounces/labels.tsv:
    the reason names of doc/feedback.md; hard only for userunknown,
    hostunknown, hasmoved and notaccept with a 5.x.x status; words that
    the user is unknown are userunknown when they answer RCPT (else
    filtered); connection failures the MTA gave up on are expired.
    Generated files are committed; rerun after editing SAMPLES.
"""
import os
import textwrap
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SENDER = "sender@sluice.example"
DATE = "Thu, 03 Dec 2026 10:00:00 +0000"
HARD = ("userunknown", "hostunknown", "hasmoved", "notaccept")


def original(rcpt):
    """Headers of the returned original message."""
    return (f"Return-Path: <{SENDER}>\nFrom: Sender <{SENDER}>\nTo: <{rcpt}>\n"
            f"Subject: newsletter\nDate: {DATE}\n"
            f"Message-ID: <orig.{zlib.crc32(rcpt.encode()):08x}@sluice.example>\n")


def report(frm, subject, human, dsn, rcpt, boundary="BOUNDARY.1"):
    """A multipart/report (RFC 6522): human text, delivery-status, headers."""
    return (f"From: {frm}\nTo: {SENDER}\nSubject: {subject}\nDate: {DATE}\n"
            f"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n"
            f"\tboundary=\"{boundary}\"\nAuto-Submitted: auto-replied\n\n"
            f"This is a MIME-encapsulated message.\n\n--{boundary}\n"
            f"Content-Type: text/plain; charset=us-ascii\n\n{human}\n\n--{boundary}\n"
            f"Content-Type: message/delivery-status\n\n{dsn}\n--{boundary}\n"
            f"Content-Type: text/rfc822-headers\n\n{original(rcpt)}\n--{boundary}--\n")


def plain(frm, subject, body, rcpt, extra=""):
    """A single-part text bounce with the original appended."""
    return (f"From: {frm}\nTo: {SENDER}\nSubject: {subject}\nDate: {DATE}\n{extra}"
            f"MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{body}\n"
            f"{original(rcpt)}\nhello\n")


def wrap4(text):
    """Postfix bounce(5) wraps the reason at 76 columns, indenting by 4."""
    lines = textwrap.wrap(text, 72)
    return "\n    ".join(lines)


# Postfix bounce(5) default failure template and its DSN (bounce_notify_util.c):
# the "host X said: ... (in reply to CMD command)" form of smtp(8), and
# local(8)/virtual(8)/smtp(8) own texts with Diagnostic-Code X-Postfix.
def postfix(rcpt, status, text, host=None, cmd="RCPT TO", action="failed", delay=False,
            dtype="X-Postfix"):
    me = "mail.sluice.example"
    if host:
        said = f"host {host}[192.0.2.25] said: {text}" + (f" (in reply to {cmd} command)" if cmd else "")
        diag = f"Diagnostic-Code: smtp; {text}\n"
        rmta = f"Remote-MTA: dns; {host}\n"
    else:
        said, diag, rmta = text, f"Diagnostic-Code: {dtype}; {text}\n", ""
    if delay:
        head = ("####################################################################\n"
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
                "####################################################################\n\n"
                "Your message could not be delivered for more than 4 hour(s).\n"
                "It will be retried until it is 5 day(s) old.\n")
        subj = "Delayed Mail (still being retried)"
    else:
        head = ("I'm sorry to have to inform you that your message could not\n"
                "be delivered to one or more recipients. It's attached below.\n")
        subj = "Undelivered Mail Returned to Sender"
    human = (f"This is the mail system at host {me}.\n\n{head}\n"
             "For further assistance, please send mail to postmaster.\n\n"
             "If you do so, please include this problem report. You can\n"
             "delete your own text from the attached returned message.\n\n"
             f"                   The mail system\n\n<{rcpt}>: {wrap4(said)}")
    dsn = (f"Reporting-MTA: dns; {me}\nX-Postfix-Queue-ID: 4ZQx1K2abcz9\n"
           f"X-Postfix-Sender: rfc822; {SENDER}\nArrival-Date: {DATE}\n\n"
           f"Final-Recipient: rfc822; {rcpt}\nOriginal-Recipient: rfc822;{rcpt}\n"
           f"Action: {action}\nStatus: {status}\n{rmta}{diag}")
    return report(f"MAILER-DAEMON@{me} (Mail Delivery System)", subj, human, dsn, rcpt)


# Exim 4 bounce (exim(8) spec chapter "Bounce messages", deliver.c's
# default text): "This message was created automatically by mail delivery
# software", the address, then the indented error; Exim >= 4.82 adds an
# RFC 3464 part (Status 5.0.0, X-Exim-Diagnostic). cmd None = local error.
def exim(rcpt, text, host=None, cmd="RCPT TO", dsn=True, temp=False):
    me = "mx.sluice.example"
    if host:
        err = (f"    host {host} [192.0.2.26]\n"
               f"    SMTP error from remote mail server after {cmd}:<{rcpt}>:\n    {text}"
               if cmd == "RCPT TO" else
               f"    host {host} [192.0.2.26]\n    SMTP error from remote mail server after {cmd}:\n    {text}")
    else:
        err = f"    {text}"
    human = ("This message was created automatically by mail delivery software.\n\n"
             "A message that you sent could not be delivered to one or more of its\n"
             "recipients. This is a permanent error. The following address(es) failed:\n\n"
             f"  {rcpt}\n{err}\n")
    subj = "Mail delivery failed: returning message to sender"
    frm = f"Mail Delivery System <Mailer-Daemon@{me}>"
    if not dsn:
        return plain(frm, subj, human + "\n------ This is a copy of the message, including all the headers. ------\n", rcpt,
                     f"X-Failed-Recipients: {rcpt}\nAuto-Submitted: auto-replied\n")
    d = (f"Reporting-MTA: dns; {me}\n\nAction: failed\nFinal-Recipient: rfc822;{rcpt}\n"
         f"Status: {'4' if temp else '5'}.0.0\n")
    if host:
        d += f"Remote-MTA: dns; {host}\nDiagnostic-Code: smtp; {text}\n"
    else:
        d += f"X-Exim-Diagnostic: X-str; {text}\n"
    return report(frm, subj, human, d, rcpt)


# Sendmail 8 DSN (sendmail/savemail.c errbody(): "The original message was
# received at", "----- The following addresses had permanent fatal errors
# -----", "(reason: ...)", "----- Transcript of session follows -----";
# deliver.c's "... while talking to HOST.:" with ">>>"/"<<<" lines).
def sendmail(rcpt, status, reply, host=None, cmd="RCPT To", local_line=None, temp=False):
    me = "smtp.sluice.example"
    kind = ("had transient non-fatal errors" if temp else "had permanent fatal errors")
    lines = []
    if host:
        lines.append(f"... while talking to {host}.:")
        if cmd:
            lines.append(f">>> {cmd}:<{rcpt}>" if cmd.startswith("RCPT") else f">>> {cmd}")
        lines.append(f"<<< {reply}")
    lines.append(local_line or f"{reply.split(' ', 1)[0]} {status} <{rcpt}>... {reply.split(' ', 2)[-1]}")
    human = (f"The original message was received at {DATE}\nfrom localhost [127.0.0.1]\n\n"
             f"   ----- The following addresses {kind} -----\n<{rcpt}>\n"
             f"    (reason: {reply})\n\n   ----- Transcript of session follows -----\n"
             + "\n".join(lines) + "\n")
    d = (f"Reporting-MTA: dns; {me}\nReceived-From-MTA: DNS; localhost\nArrival-Date: {DATE}\n\n"
         f"Final-Recipient: RFC822; {rcpt}\nAction: {'delayed' if temp else 'failed'}\nStatus: {status}\n")
    if host:
        d += f"Remote-MTA: DNS; {host}\nDiagnostic-Code: SMTP; {reply}\n"
    d += f"Last-Attempt-Date: {DATE}\n"
    subj = "Warning: could not send message for past 4 hours" if temp else "Returned mail: see transcript for details"
    return report(f"Mail Delivery Subsystem <MAILER-DAEMON@{me}>", subj, human, d, rcpt)


# qmail-send's bounce (qmail-send.c: "Hi. This is the qmail-send program
# at", "<addr>:" then qmail-remote/qmail-local's text, "--- Below this line
# is a copy of the message.").
def qmail(rcpt, text):
    me = "qmail.sluice.example"
    body = (f"Hi. This is the qmail-send program at {me}.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            f"<{rcpt}>:\n{text}\n\n--- Below this line is a copy of the message.\n")
    return plain(f"MAILER-DAEMON@{me}", "failure notice", body, rcpt)


# OpenSMTPD's bounce (smtpd/bounce.c: "Hi!", "This is the MAILER-DAEMON,
# please DO NOT REPLY to this email.", "An error has occurred while
# attempting to deliver a message for the following list of recipients:",
# "<rcpt>: <error>", "Below is a copy of the original message:").
def opensmtpd(rcpt, text):
    me = "smtpd.sluice.example"
    body = ("Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n"
            "An error has occurred while attempting to deliver a message for\n"
            f"the following list of recipients:\n\n{rcpt}: {text}\n\n"
            "Below is a copy of the original message:\n\n")
    return plain(f"Mailer Daemon <MAILER-DAEMON@{me}>", "Delivery status notification: error", body, rcpt)


# Exchange Server 2013+/Exchange Online NDR (Microsoft Learn "Email
# non-delivery reports and SMTP errors in Exchange Online"): "Delivery has
# failed to these recipients or groups:", "Diagnostic information for
# administrators:", "Generating server:", "Remote Server returned '...'",
# and the RFC 3464 part with the enhanced status.
def exchange(rcpt, status, text, gen="AM0PR01MB1234.eurprd01.prod.outlook.com", remote=True):
    ret = f"Remote Server returned '{text}'" if remote else text
    human = ("Delivery has failed to these recipients or groups:\n\n"
             f"{rcpt}\nYour message couldn't be delivered.\n\n\n"
             "Diagnostic information for administrators:\n\n"
             f"Generating server: {gen}\n\n{rcpt}\n{ret}\n")
    d = (f"Reporting-MTA: dns;{gen}\nReceived-From-MTA: dns;mail.sluice.example\n"
         f"Arrival-Date: {DATE}\n\nFinal-Recipient: rfc822;{rcpt}\nAction: failed\n"
         f"Status: {status}\nDiagnostic-Code: smtp;{text}\n")
    return report(f"Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@sluice.example>",
                  "Undeliverable: newsletter", human, d, rcpt)


# Courier MTA's DSN (courier/module.esmtp, courierdsn: "This is a delivery
# status notification, automatically generated by", the address, the host,
# the ">>>"/"<<<" transcript of the failed command) with its RFC 3464 part.
def courier(rcpt, reply, host="mx.example.com", cmd="RCPT TO"):
    me = "courier.sluice.example"
    human = (f"This is a delivery status notification, automatically generated by\n"
             f"{me}.\n\nYour message could not be delivered to the following address(es).\n\n"
             f"<{rcpt}>:\n    {host} [192.0.2.25]:\n>>> "
             + (f"{cmd}:<{rcpt}>" if cmd.startswith("RCPT") else cmd) + f"\n<<< {reply}\n")
    d = (f"Reporting-MTA: dns; {me}\nArrival-Date: {DATE}\n\n"
         f"Final-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.0.0\n"
         f"Remote-MTA: dns; {host}\nDiagnostic-Code: smtp; {reply}\n")
    return report(f"Courier mail server at {me} <@>", "NOTICE: mail delivery status.", human, d, rcpt)


# IBM/HCL Domino's delivery failure report (HCL Domino admin help,
# "Delivery Failure Report": "was not delivered to:", "because:").
def domino(rcpt, why):
    body = (f"Your message\n\n  Subject: newsletter\n\nwas not delivered to:\n\n  {rcpt}\n\n"
            f"because:\n\n  {why}\n\n")
    return plain("Postmaster@domino.sluice.example", f"DELIVERY FAILURE: {why}", body, rcpt)


# Exchange 2000/2003 NDR (Microsoft KB 284204 "NDR codes in Exchange
# 2003": "Your message did not reach some or all of the intended
# recipients.", "The following recipient(s) could not be reached:", the
# text and "<host #X.Y.Z>").
def exchange2003(rcpt, why):
    body = ("Your message did not reach some or all of the intended recipients.\n\n"
            "      Subject:\tnewsletter\n      Sent:\t12/3/2026 10:00 AM\n\n"
            "The following recipient(s) could not be reached:\n\n"
            f"      {rcpt} on 12/3/2026 10:01 AM\n            {why}\n")
    return plain("System Administrator <postmaster@ex2003.sluice.example>",
                 "Undeliverable: newsletter", body, rcpt)


FORMATS = {"postfix": postfix, "exim": exim, "sendmail": sendmail, "qmail": qmail,
           "opensmtpd": opensmtpd, "exchange": exchange,
           "courier": courier, "domino": domino, "exchange2003": exchange2003}

# (name, format, recipient, reason, source, positional args, keyword args)
P, E, S, Q, O, X = "postfix", "exim", "sendmail", "qmail", "opensmtpd", "exchange"
C, D, X3 = "courier", "domino", "exchange2003"
SRC_PF = "Postfix 3.7 binaries /usr/lib/postfix/sbin/{smtp,smtpd,local,virtual} (strings); postconf(5)"
SRC_GM = "https://support.google.com/a/answer/3726730 (Gmail SMTP errors and codes)"
SRC_MS = "https://learn.microsoft.com/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online"
SRC_YH = "https://senders.yahooinc.com/smtp-error-codes/ (Yahoo SMTP error codes)"
SRC_EX = "Exim 4 specification (exim.org/exim-html-current/doc/html/spec_html), ch. 'Bounce messages', 'Retry configuration'; exim4 binary strings"
SRC_SM = "Sendmail 8 sendmail/savemail.c, deliver.c, err.c texts (sendmail-bin strings); RFC 3463"
SRC_QM = "qmail 1.03 qmail-remote.c, qmail-local.c, qmail-send.c texts"
SRC_OS = "OpenSMTPD smtpd/bounce.c, mta.c texts"
SAMPLES = [
    # --- Postfix as the sender's MTA, remote replies of various receivers
    ("postfix-rcpt-local-table", P, "nobody@example.com", "userunknown", SRC_PF + " smtpd: reject_unlisted_recipient",
     ("5.1.1", "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table", "mx.example.com"), {}),
    ("postfix-rcpt-virtual-table", P, "gone@example.org", "userunknown", SRC_PF + " smtpd",
     ("5.1.1", "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table", "mx.example.org"), {}),
    ("postfix-rcpt-no-esc", P, "old@example.net", "userunknown", SRC_PF + " smtpd (smtpd_enforce_tls off, no enhanced codes: RFC 5321 550)",
     ("5.0.0", "550 <old@example.net>: Recipient address rejected: User unknown in local recipient table", "mx.example.net"), {}),
    ("postfix-rcpt-relay-table", P, "ex@example.com", "userunknown", SRC_PF + " smtpd relay_recipient_maps",
     ("5.1.1", "550 5.1.1 <ex@example.com>: Recipient address rejected: User unknown in relay recipient table", "mx.example.com"), {}),
    ("postfix-rcpt-domain-not-found-temp", P, "a@nodomain.example", "hostunknown", SRC_PF + " smtpd reject_unknown_recipient_domain (450)",
     ("4.1.2", "450 4.1.2 <a@nodomain.example>: Recipient address rejected: Domain not found", "mx.example.com"), {"action": "delayed", "delay": True}),
    ("postfix-relay-denied", P, "friend@elsewhere.example", "norelaying", SRC_PF + " smtpd reject_unauth_destination",
     ("5.7.1", "554 5.7.1 <friend@elsewhere.example>: Relay access denied", "mx.example.com"), {}),
    ("postfix-rbl-spamhaus", P, "user@example.com", "blocked", SRC_PF + " smtpd reject_rbl_client; https://www.spamhaus.org/returnc/",
     ("5.7.1", "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7", "mx.example.com"), {}),
    ("postfix-client-no-ptr", P, "user@example.org", "requireptr", SRC_PF + " smtpd reject_unknown_client_hostname",
     ("5.7.1", "550 5.7.1 Client host rejected: cannot find your hostname, [198.51.100.7]", "mx.example.org", "MAIL FROM"), {}),
    ("postfix-client-no-ptr-temp", P, "user2@example.org", "requireptr", SRC_PF + " smtpd reject_unknown_reverse_client_hostname (450)",
     ("4.7.1", "450 4.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.7]", "mx.example.org", "RCPT TO"), {"action": "failed"}),
    ("postfix-sender-domain-not-found", P, "user@example.net", "rejected", SRC_PF + " smtpd reject_unknown_sender_domain",
     ("5.1.8", "553 5.1.8 <sender@sluice.example>: Sender address rejected: Domain not found", "mx.example.net", "MAIL FROM"), {}),
    ("postfix-sender-not-owned", P, "user3@example.net", "rejected", SRC_PF + " smtpd reject_sender_login_mismatch",
     ("5.7.1", "553 5.7.1 <sender@sluice.example>: Sender address rejected: not owned by user sender", "mx.example.net", "RCPT TO"), {}),
    ("postfix-size-limit", P, "big@example.com", "mesgtoobig", SRC_PF + " smtpd message_size_limit; smtp 'message size exceeds size limit'",
     ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", "mx.example.com", "END-OF-MESSAGE"), {}),
    ("postfix-smtp-size-advertised", P, "big2@example.com", "mesgtoobig", SRC_PF + " smtp: 'message size %lu exceeds size limit %.0f of server %s'",
     ("5.3.4", "message size 30000000 exceeds size limit 10240000 of server mx.example.com[192.0.2.25]"), {}),
    ("postfix-insufficient-storage", P, "q@example.com", "systemfull", SRC_PF + " smtpd queue_minfree",
     ("4.3.1", "452 4.3.1 Insufficient system storage", "mx.example.com", "MAIL FROM"), {"action": "delayed", "delay": True}),
    ("postfix-too-many-conn", P, "c@example.com", "toomanyconn", SRC_PF + " smtpd smtpd_client_connection_count_limit",
     ("4.7.0", "421 4.7.0 mx.example.com Error: too many connections from 198.51.100.7", "mx.example.com", None), {"action": "delayed", "delay": True}),
    ("postfix-too-much-mail", P, "c2@example.com", "toomanyconn", SRC_PF + " smtpd smtpd_client_message_rate_limit",
     ("4.7.0", "450 4.7.1 Error: too much mail from 198.51.100.7", "mx.example.com", "MAIL FROM"), {"action": "delayed", "delay": True}),
    ("postfix-spf-fail", P, "s@example.org", "authfailure", "postfix-policyd-spf-python README / policyd-spf(1): 'Message rejected due to: SPF fail - not authorized'",
     ("5.7.23", "550 5.7.23 <s@example.org>: Recipient address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.open-spf.org/Why;id=sender%40sluice.example;ip=198.51.100.7;r=<UNKNOWN>", "mx.example.org"), {}),
    ("postfix-dmarc-reject", P, "d@example.org", "authfailure", "OpenDMARC opendmarc.conf(5) RejectFailures: 'rejected by DMARC policy for'",
     ("5.7.1", "550 5.7.1 rejected by DMARC policy for sluice.example", "mx.example.org", "END-OF-MESSAGE"), {}),
    ("postfix-dovecot-quota", P, "full@example.com", "mailboxfull", "Dovecot LMTP quota plugin: quota_exceeded_message default 'Quota exceeded (mailbox for user is full)'",
     ("5.2.2", "552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)", "mx.example.com", "END-OF-MESSAGE"), {}),
    ("postfix-dovecot-nouser", P, "none@example.com", "userunknown", "Dovecot LMTP: '550 5.1.1 <addr> User doesn't exist'",
     ("5.1.1", "550 5.1.1 <none@example.com> User doesn't exist: none@example.com", "mx.example.com"), {}),
    ("postfix-amavis-virus", P, "v@example.com", "virusdetected", "amavisd-new README: '554 5.7.0 Reject, id=... - INFECTED: <virus>'",
     ("5.7.0", "554 5.7.0 Reject, id=12345-07 - INFECTED: Eicar-Signature", "mx.example.com", "END-OF-MESSAGE"), {}),
    ("postfix-amavis-spam", P, "sp@example.com", "spamdetected", "amavisd-new README: '554 5.7.0 Reject, id=... - SPAM'",
     ("5.7.0", "554 5.7.0 Reject, id=12345-08 - SPAM", "mx.example.com", "END-OF-MESSAGE"), {}),
    ("postfix-rspamd-spam", P, "sp2@example.com", "spamdetected", "rspamd docs (actions): reject message 'Spam message rejected'",
     ("5.7.1", "554 5.7.1 Spam message rejected", "mx.example.com", "END-OF-MESSAGE"), {}),
    ("postfix-local-unknown-user", P, "jdoe@sluice-local.example", "userunknown", SRC_PF + " local(8): 'unknown user: \"%s\"'",
     ("5.1.1", "unknown user: \"jdoe\""), {}),
    ("postfix-virtual-not-found", P, "x@sluice-virtual.example", "userunknown", SRC_PF + " virtual(8): 'recipient %s: not found in %s'",
     ("5.1.1", "user unknown. recipient x@sluice-virtual.example: not found in virtual_mailbox_maps"), {}),
    ("postfix-local-quota", P, "fat@sluice-local.example", "mailboxfull", SRC_PF + " local(8) 'cannot update mailbox %s for user %s. ' + EDQUOT",
     ("5.2.2", "cannot update mailbox /var/mail/fat for user fat. error writing message: Disk quota exceeded"), {}),
    ("postfix-local-size-limit", P, "fat2@sluice-local.example", "mailboxfull", SRC_PF + " local(8) mailbox_size_limit: 'File too large'",
     ("5.2.2", "cannot update mailbox /var/mail/fat2 for user fat2. error writing message: File too large"), {}),
    ("postfix-local-alias-loop", P, "loop@sluice-local.example", "networkerror", SRC_PF + " local(8) 'mail forwarding loop for %s'; RFC 3463 X.4.6",
     ("5.4.6", "mail forwarding loop for loop@sluice-local.example"), {}),
    ("postfix-loops-back", P, "me@misconfigured.example", "networkerror", SRC_PF + " smtp(8) 'mail for %s loops back to myself'; RFC 3463 X.4.6",
     ("5.4.6", "mail for misconfigured.example loops back to myself"), {}),
    ("postfix-nxdomain", P, "a@nxdomain.example", "hostunknown", SRC_PF + " smtp(8) 'Host or domain name not found. Name service error for name=%s type=%s: Host not found'",
     ("5.4.4", "Host or domain name not found. Name service error for name=nxdomain.example type=MX: Host not found"), {}),
    ("postfix-nullmx", P, "a@nullmx.example", "notaccept", SRC_PF + " smtp(8) (RFC 7505 null MX): 'Domain %s does not accept mail (nullMX)'",
     ("5.1.10", "Domain nullmx.example does not accept mail (nullMX)"), {}),
    ("postfix-expired-timeout", P, "slow@example.com", "expired", SRC_PF + " smtp(8) 'connect to %s: Connection timed out' after maximal_queue_lifetime",
     ("4.4.1", "connect to mx.example.com[192.0.2.25]:25: Connection timed out"), {}),
    ("postfix-expired-refused", P, "slow2@example.com", "expired", SRC_PF + " smtp(8) 'connect to %s: Connection refused' after maximal_queue_lifetime",
     ("4.4.1", "connect to mx.example.com[192.0.2.25]:25: Connection refused"), {}),
    ("postfix-expired-lost", P, "slow3@example.com", "expired", SRC_PF + " smtp(8) 'lost connection with %s while %s'",
     ("4.4.2", "lost connection with mx.example.com[192.0.2.25] while receiving the initial server greeting"), {}),
    ("postfix-expired-conversation", P, "slow4@example.com", "expired", SRC_PF + " smtp(8) 'conversation with %s timed out while %s'",
     ("4.4.2", "conversation with mx.example.com[192.0.2.25] timed out while sending message body"), {}),
    ("postfix-dns-tempfail-expired", P, "t2@example.com", "networkerror", SRC_PF + " smtp(8) 'Host or domain name not found. Name service error for name=%s type=%s: Host not found, try again' (RFC 3463 X.4.3) after maximal_queue_lifetime",
     ("4.4.3", "Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again"), {}),
    ("postfix-dns-servfail-expired", P, "t3@example.net", "networkerror", SRC_PF + " smtp(8) 'Name service error for name=%s type=%s: Malformed or unexpected name server reply' after maximal_queue_lifetime",
     ("4.4.3", "Name service error for name=example.net type=MX: Malformed or unexpected name server reply"), {}),
    ("postfix-refused-to-talk", P, "r@example.com", "blocked", SRC_PF + " smtp(8) 'host %s refused to talk to me: %s'",
     ("5.0.0", "host mx.example.com[192.0.2.25] refused to talk to me: 554 mx.example.com ESMTP not accepting messages from 198.51.100.7"), {}),
    ("postfix-tls-required", P, "t@example.com", "securityerror", SRC_PF + " smtp(8) 'TLS is required, but host %s refused to start TLS: %s'",
     ("4.7.4", "TLS is required, but host mx.example.com[192.0.2.25] refused to start TLS: 454 4.7.0 TLS not available due to local problem"), {}),
    ("postfix-delay-greylist", P, "g@example.com", "blocked", "postgrey(8): '450 4.2.0 Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/'",
     ("4.2.0", "450 4.2.0 <g@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html", "mx.example.com"), {"action": "delayed", "delay": True}),
    # --- Gmail's documented replies, reported by Postfix
    ("gmail-nosuchuser", P, "nosuch@gmail.example", "userunknown", SRC_GM,
     ("5.1.1", "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp", "gmail-smtp-in.l.google.com"), {}),
    ("gmail-disabled", P, "off@gmail.example", "suspend", SRC_GM + " 550 5.2.1 'The email account that you tried to reach is disabled'",
     ("5.2.1", "550-5.2.1 The email account that you tried to reach is disabled. For more information, go to 550 5.2.1 https://support.google.com/mail/?p=DisabledUser a1si124 - gsmtp", "gmail-smtp-in.l.google.com"), {}),
    ("gmail-overquota-452", P, "full@gmail.example", "mailboxfull", SRC_GM + " 452 4.2.2",
     ("4.2.2", "452-4.2.2 The email account that you tried to reach is over quota. Please direct 452-4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp a1si125 - gsmtp", "gmail-smtp-in.l.google.com"), {"action": "delayed", "delay": True}),
    ("gmail-outofstorage-552", P, "full2@gmail.example", "mailboxfull", SRC_GM + " 552 5.2.2",
     ("5.2.2", "552-5.2.2 The recipient's inbox is out of storage space. Please direct the 552-5.2.2 recipient to 552 5.2.2 https://support.google.com/mail/?p=OverQuotaPerm a1si126 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-unauthenticated", P, "u@gmail.example", "authfailure", SRC_GM + " 550 5.7.26",
     ("5.7.26", "550-5.7.26 This mail has been blocked because the sender is unauthenticated. 550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM. 550-5.7.26 Authentication results: DKIM = did not pass SPF [sluice.example] with ip: [198.51.100.7] = did not pass 550 5.7.26 https://support.google.com/mail/answer/81126#authentication a1si127 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-dmarc", P, "u2@gmail.example", "authfailure", SRC_GM + " 550 5.7.26 DMARC",
     ("5.7.26", "550-5.7.26 Unauthenticated email from sluice.example is not accepted due to domain's 550-5.7.26 DMARC policy. Please contact the administrator of sluice.example domain 550 5.7.26 https://support.google.com/mail/answer/2451690 a1si128 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-ptr", P, "u3@gmail.example", "requireptr", SRC_GM + " 550 5.7.25",
     ("5.7.25", "550-5.7.25 [198.51.100.7] The IP address sending this message does not have a 550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not 550-5.7.25 point to the sending IP. 550 5.7.25 https://support.google.com/mail/answer/81126#ip-practices a1si129 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-spam", P, "u4@gmail.example", "spamdetected", SRC_GM + " 550 5.7.1 likely unsolicited mail",
     ("5.7.1", "550-5.7.1 [198.51.100.7] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, 550-5.7.1 this message has been blocked. For more information, go to 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError a1si130 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-ip-rate-421", P, "u5@gmail.example", "blocked", SRC_GM + " 421 4.7.28 unusual rate of unsolicited mail originating from your IP",
     ("4.7.28", "421-4.7.28 [198.51.100.7 15] Our system has detected an unusual rate of 421-4.7.28 unsolicited mail originating from your IP address. To protect our 421-4.7.28 users from spam, mail sent from your IP address has been temporarily 421 4.7.28 rate limited. https://support.google.com/mail/?p=UnsolicitedRateLimitError a1si131 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {"action": "delayed", "delay": True}),
    ("gmail-too-big", P, "u6@gmail.example", "mesgtoobig", SRC_GM + " 552 5.3.4",
     ("5.3.4", "552-5.3.4 Your message exceeded Google's message size limits. For more 552-5.3.4 information, go to 552 5.3.4 https://support.google.com/mail/?p=MaxSizeError a1si132 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-no-domain", P, "u7@gmail.example", "hostunknown", SRC_GM + " 553 5.1.2 'We weren't able to find the recipient domain'",
     ("5.1.2", "553-5.1.2 We weren't able to find the recipient domain. Please check for any 553-5.1.2 spelling errors, and make sure you didn't enter any spaces, periods, 553 5.1.2 or other punctuation after the recipient's email address. a1si133 - gsmtp", "smtp-relay.gmail.com"), {}),
    ("gmail-rfc5322-from", P, "u8@gmail.example", "notcompliantrfc", SRC_GM + " 550 5.7.1 'Messages missing a valid address in From: header'",
     ("5.7.1", "550-5.7.1 [198.51.100.7] Messages missing a valid address in From: header, or 550 5.7.1 having no From: header, are not accepted. a1si134 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-malformed", P, "u9@gmail.example", "contenterror", SRC_GM + " 554 5.6.0 'Mail message is malformed. Not accepted.'",
     ("5.6.0", "554 5.6.0 Mail message is malformed. Not accepted. a1si135 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-receiving-too-quickly", P, "u10@gmail.example", "toomanyconn", SRC_GM + " 450 4.2.1 'receiving mail too quickly'",
     ("4.2.1", "450-4.2.1 The user you are trying to contact is receiving mail too quickly. 450-4.2.1 Please resend your message at a later time. If the user is able to 450-4.2.1 receive mail at that time, your message will be delivered. 450 4.2.1 https://support.google.com/mail/?p=ReceivingRate a1si136 - gsmtp", "gmail-smtp-in.l.google.com"), {"action": "delayed", "delay": True}),
    ("gmail-tls-required", P, "u11@gmail.example", "securityerror", SRC_GM + " 421 4.7.0 'TLS required for RCPT domain'",
     ("4.7.0", "421 4.7.0 TLS required for RCPT domain, closing connection. a1si137 - gsmtp", "aspmx.l.google.com"), {"action": "delayed", "delay": True}),
    ("gmail-virus", P, "u12@gmail.example", "virusdetected", SRC_GM + " 552 5.7.0 'This message was blocked because its content presents a potential security issue'",
     ("5.7.0", "552-5.7.0 This message was blocked because its content presents a potential 552-5.7.0 security issue. Please visit 552-5.7.0 https://support.google.com/mail/?p=BlockedMessage to review our 552 5.7.0 message content and attachment content guidelines. a1si138 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-sending-quota", P, "u13@gmail.example", "toomanyconn", SRC_GM + " 550 5.4.5 'Daily user sending limit exceeded'",
     ("5.4.5", "550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to https://support.google.com/a/answer/166852 a1si139 - gsmtp", "smtp-relay.gmail.com", "MAIL FROM"), {}),
    ("gmail-not-aligned", P, "u14@gmail.example", "authfailure", SRC_GM + " 550 5.7.32 'From: header isn't aligned with either the authenticated SPF or DKIM'",
     ("5.7.32", "550-5.7.32 Your email has been rejected because the From: header isn't aligned 550-5.7.32 with either the authenticated SPF or DKIM organizational domain. 550 5.7.32 https://support.google.com/mail/answer/81126#authentication a1si140 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    # --- Yahoo / AOL postmaster codes
    ("yahoo-tss04", P, "y1@yahoo.example", "blocked", SRC_YH + " 421 4.7.0 [TSS04]",
     ("4.7.0", "421 4.7.0 [TSS04] Messages from 198.51.100.7 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "mta7.am0.yahoodns.net", "MAIL FROM"), {"action": "delayed", "delay": True}),
    ("yahoo-tss09", P, "y2@yahoo.example", "blocked", SRC_YH + " 553 5.7.2 [TSS09]",
     ("5.7.2", "553 5.7.2 [TSS09] All messages from 198.51.100.7 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", "mta7.am0.yahoodns.net", "MAIL FROM"), {}),
    ("yahoo-policy", P, "y3@yahoo.example", "policyviolation", SRC_YH + " 554 5.7.9 'Message not accepted for policy reasons'",
     ("5.7.9", "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes", "mta7.am0.yahoodns.net", "END-OF-MESSAGE"), {}),
    ("yahoo-nouser", P, "y4@yahoo.example", "userunknown", SRC_YH + " 554 5.1.1 'Sorry, ... This user doesn't have a yahoo.com account'",
     ("5.1.1", "554 delivery error: dd This user doesn't have a yahoo.com account (y4@yahoo.example) [0] - mta1234.mail.ir2.yahoo.com", "mta7.am0.yahoodns.net", "RCPT TO"), {}),
    ("yahoo-disabled", P, "y5@yahoo.example", "suspend", SRC_YH + " 554 'This mailbox is disabled (554.30)'",
     ("5.0.0", "554 delivery error: dd Sorry your message to y5@yahoo.example cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.ir2.yahoo.com", "mta7.am0.yahoodns.net", "END-OF-MESSAGE"), {}),
    ("yahoo-dmarc", P, "y6@yahoo.example", "authfailure", SRC_YH + " 550 5.7.9 DMARC",
     ("5.7.9", "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.", "mta7.am0.yahoodns.net", "END-OF-MESSAGE"), {}),
    ("aol-nouser", P, "a1@aol.example", "userunknown", "AOL postmaster (now Yahoo) 550 5.1.1 'Requested action not taken: mailbox unavailable'",
     ("5.1.1", "550 5.1.1 <a1@aol.example>: Recipient address rejected: aol.example", "mx-aol.mail.gm0.yahoodns.net"), {}),
    # --- Microsoft: Exchange Online / Outlook.com
    ("ms-recipientnotfound", X, "nobody@contoso.example", "userunknown", SRC_MS + " 5.1.10",
     ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@contoso.example not found by SMTP address lookup"), {}),
    ("ms-recipnotfound", X, "nobody2@contoso.example", "userunknown", SRC_MS + " 5.1.1",
     ("5.1.1", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"), {}),
    ("ms-exrecipnotfound", X, "nobody3@contoso.example", "userunknown", SRC_MS + " 5.1.1 ExRecipNotFound",
     ("5.1.1", "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found"), {}),
    ("ms-dbeb", X, "nobody4@contoso.example", "userunknown", SRC_MS + " 5.4.1 'Recipient address rejected: Access denied' (Directory Based Edge Blocking)",
     ("5.4.1", "550 5.4.1 Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors [AM0PR01MB1234.eurprd01.prod.outlook.com]"), {}),
    ("ms-banned-ip", X, "r1@contoso.example", "blocked", SRC_MS + " 5.7.606-649 'Access denied, banned sending IP'",
     ("5.7.606", "550 5.7.606 Access denied, banned sending IP [198.51.100.7]. To request removal from this list please visit https://sender.office.com/ and follow the directions."), {}),
    ("ms-banned-ip-622", X, "r2@contoso.example", "blocked", SRC_MS + " 5.7.622",
     ("5.7.622", "550 5.7.622 Access denied, bad inbound connection attempted. The sending IP address [198.51.100.7] is on our block list."), {}),
    ("ms-traffic-not-accepted", X, "r3@contoso.example", "blocked", SRC_MS + " 5.7.708",
     ("5.7.708", "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."), {}),
    ("ms-quota", X, "full@contoso.example", "mailboxfull", SRC_MS + " 5.2.2",
     ("5.2.2", "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot open mailbox.[EndDiagnosticData]"), {}),
    ("ms-recip-size", X, "big@contoso.example", "exceedlimit", SRC_MS + " 5.2.3 RecipSizeLimit",
     ("5.2.3", "550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient"), {}),
    ("ms-route-size", X, "big2@contoso.example", "mesgtoobig", SRC_MS + " 5.3.4 ROUTING.SizeLimit",
     ("5.3.4", "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route"), {}),
    ("ms-expired", X, "late@contoso.example", "expired", SRC_MS + " 4.4.7 'Message expired'",
     ("4.4.7", "550 4.4.7 QUEUE.Expired; message expired", "BN8NAM11FT001.mail.protection.outlook.com", False), {}),
    ("ms-dns-nonexistent", X, "x@nodomain.example", "hostunknown", SRC_MS + " 5.4.4 'SMTPSEND.DNS.NonExistentDomain; nonexistent domain'",
     ("5.4.4", "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", "BN8NAM11FT001.mail.protection.outlook.com", False), {}),
    ("ms-nullmx", X, "x@nullmx.example", "notaccept", SRC_MS + " 5.1.10 null MX (RFC 7505); 5.4.4 'SMTPSEND.DNS.NullMxRecord'",
     ("5.4.4", "554 5.4.4 SMTPSEND.DNS.NullMxRecord; Domain does not accept email", "BN8NAM11FT001.mail.protection.outlook.com", False), {}),
    ("ms-hopcount", X, "loop@contoso.example", "networkerror", SRC_MS + " 5.4.14 'Hop count exceeded - possible mail loop'",
     ("5.4.14", "554 5.4.14 Hop count exceeded - possible mail loop ATTR34 [AM0PR01MB1234.eurprd01.prod.outlook.com]"), {}),
    ("ms-spf", X, "s@contoso.example", "authfailure", SRC_MS + " 5.7.23 SPF",
     ("5.7.23", "550 5.7.23 The message was rejected because of Sender Policy Framework violation"), {}),
    ("ms-dmarc", X, "d@contoso.example", "authfailure", SRC_MS + " 5.7.509 DMARC",
     ("5.7.509", "550 5.7.509 Access denied, sending domain sluice.example does not pass DMARC verification and has a DMARC policy of reject."), {}),
    ("ms-relay", X, "x@fabrikam.example", "norelaying", SRC_MS + " 5.7.64 'TenantAttribution; Relay Access Denied'",
     ("5.7.64", "550 5.7.64 TenantAttribution; Relay Access Denied"), {}),
    ("ms-anon-auth", X, "a@contoso.example", "securityerror", SRC_MS + " 5.7.57 'Client not authenticated to send mail'",
     ("5.7.57", "530 5.7.57 Client not authenticated to send mail. [AM0PR01MB1234.eurprd01.prod.outlook.com]"), {}),
    ("ms-bad-sender", X, "b@contoso.example", "rejected", SRC_MS + " 5.1.8 'Access denied, bad outbound sender'",
     ("5.1.8", "550 5.1.8 Access denied, bad outbound sender"), {}),
    ("outlook-s3150", P, "o1@outlook.example", "blocked", "Microsoft postmaster (sendersupport.olc.protection.outlook.com) S3150",
     ("5.7.1", "550 5.7.1 Unfortunately, messages from [198.51.100.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [VI1EUR01FT001.eop-EUR01.prod.protection.outlook.com]", "outlook-com.olc.protection.outlook.com", "MAIL FROM"), {}),
    ("outlook-mailbox-unavailable", P, "o2@outlook.example", "userunknown", "Outlook.com / RFC 5321 4.2.2: '550 5.5.0 Requested action not taken: mailbox unavailable'",
     ("5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DB5EUR01FT001.eop-EUR01.prod.protection.outlook.com]", "outlook-com.olc.protection.outlook.com"), {}),
    ("outlook-rate", P, "o3@outlook.example", "toomanyconn", "Microsoft postmaster RP-001 'We have limits for how many messages can be sent per hour'",
     ("4.7.0", "421 RP-001 (BAY004-MC1F1) Unfortunately, some messages from 198.51.100.7 weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day. You can also refer to http://mail.live.com/mail/troubleshooting.aspx#errors.", "mx1.hotmail.example", "MAIL FROM"), {"action": "delayed", "delay": True}),
    ("outlook-sc001", P, "o4@outlook.example", "blocked", "Microsoft postmaster SC-001 'blocked by Outlook.com for policy reasons'",
     ("5.7.1", "550 SC-001 (BAY004-MC1F2) Unfortunately, messages from 198.51.100.7 weren't sent. Please contact your Internet service provider since part of their network is on our block list. You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", "mx1.hotmail.example", "MAIL FROM"), {}),
    # --- Exim as the sender's MTA
    ("exim-rcpt-unknown", E, "nobody@example.de", "userunknown", SRC_EX,
     ("550 5.1.1 <nobody@example.de>: Recipient address rejected: User unknown in virtual mailbox table", "mx.example.de"), {}),
    ("exim-rcpt-unknown-nodsn", E, "nobody2@example.de", "userunknown", SRC_EX + " (before 4.82: no DSN part)",
     ("550 Unknown user", "mx.example.de"), {"dsn": False}),
    ("exim-unrouteable", E, "x@nxdomain.example", "hostunknown", SRC_EX + " 'Unrouteable address' (dnslookup router, domain not in DNS)",
     ("Unrouteable address",), {}),
    ("exim-mx-nonexistent", E, "x@badmx.example", "hostunknown", SRC_EX + " 'all relevant MX records point to non-existent hosts'",
     ("all relevant MX records point to non-existent hosts",), {}),
    ("exim-retry-timeout", E, "late@example.de", "expired", SRC_EX + " 'retry timeout exceeded'",
     ("retry timeout exceeded",), {}),
    ("exim-hosts-failing", E, "late2@example.de", "expired", SRC_EX + " 'all hosts for %s have been failing for a long time (and retry time not reached)'",
     ("all hosts for 'example.de' have been failing for a long time (and retry time not reached)",), {}),
    ("exim-local-quota", E, "full@sluice-local.example", "mailboxfull", SRC_EX + " appendfile transport 'mailbox is full (MTA-imposed quota exceeded while writing to %s)'",
     ("mailbox is full (MTA-imposed quota exceeded while writing to /var/mail/full)",), {}),
    ("exim-remote-quota", E, "full2@example.de", "mailboxfull", "Exim appendfile quota text relayed by a remote Exim: '552 ... mailbox is full'",
     ("452 4.2.2 <full2@example.de>: mailbox is full", "mx.example.de"), {"temp": True}),
    ("exim-remote-relay", E, "x@elsewhere.example", "norelaying", "Exim ACL default 'relay not permitted' (acl_smtp_rcpt example)",
     ("550 relay not permitted", "mx.example.de"), {}),
    ("exim-remote-rbl", E, "u@example.de", "blocked", "Exim ACL dnslists: 'rejected because %s is in a black list at %s'",
     ("550 rejected because 198.51.100.7 is in a black list at zen.spamhaus.org", "mx.example.de"), {}),
    ("exim-remote-ptr", E, "u2@example.de", "requireptr", "Exim ACL verify = reverse_host_lookup: 'host lookup failed for reverse lookup check'",
     ("550 Reverse DNS lookup failed for host 198.51.100.7.", "mx.example.de", "MAIL FROM"), {}),
    ("exim-remote-content", E, "u3@example.de", "spamdetected", "Exim content scanning (spam = ...): 'Rejected: this message scored 15.2 spam points'",
     ("550 This message scored 15.2 spam points.", "mx.example.de", "end of data"), {}),
    ("exim-remote-virus", E, "u4@example.de", "virusdetected", "Exim content scanning (malware = ...): 'This message contains a virus (%s)'",
     ("550 This message contains a virus (Eicar-Test-Signature).", "mx.example.de", "end of data"), {}),
    ("exim-remote-size", E, "u5@example.de", "mesgtoobig", "Exim message_size_limit: '552 Message size exceeds maximum permitted'",
     ("552 Message size exceeds maximum permitted", "mx.example.de", "MAIL FROM"), {}),
    ("exim-sender-verify", E, "u6@example.de", "rejected", "Exim ACL verify = sender: 'Sender verify failed'",
     ("550 Sender verify failed", "mx.example.de"), {}),
    ("exim-too-many-conn", E, "u7@example.de", "toomanyconn", "Exim smtp_accept_max_per_host: '421 Too many concurrent SMTP connections from this IP address; please try again later.'",
     ("421 Too many concurrent SMTP connections from this IP address; please try again later.", "mx.example.de", "initial connection"), {"temp": True}),
    # --- Sendmail as the sender's MTA
    ("sendmail-local-unknown", S, "nobody@sm.example", "userunknown", SRC_SM + " '550 5.1.1 %s... User unknown'",
     ("5.1.1", "550 5.1.1 <nobody@sm.example>... User unknown"), {}),
    ("sendmail-remote-unknown", S, "nobody2@example.jp", "userunknown", SRC_SM,
     ("5.1.1", "550 5.1.1 <nobody2@example.jp>... User unknown", "mx.example.jp"), {}),
    ("sendmail-host-unknown", S, "x@nxdomain.example", "hostunknown", SRC_SM + " '550 5.1.2 %s... Host unknown (Name server: %s: host not found)'",
     ("5.1.2", "550 5.1.2 <x@nxdomain.example>... Host unknown (Name server: nxdomain.example: host not found)"), {}),
    ("sendmail-cannot-send", S, "late@example.jp", "expired", SRC_SM + " 'Cannot send message for %s' (Timeout.queuereturn)",
     ("4.4.7", "Cannot send message for 5 days", None, "RCPT To", "Message could not be delivered for 5 days\nMessage will be deleted from queue"), {}),
    ("sendmail-remote-full", S, "full@example.jp", "mailboxfull", SRC_SM + " RFC 5321 552 'Requested mail action aborted: exceeded storage allocation'",
     ("5.2.2", "552 5.2.2 <full@example.jp>... Mailbox full", "mx.example.jp", "DATA"), {}),
    ("sendmail-remote-relay", S, "x@elsewhere.example", "norelaying", SRC_SM + " check_rcpt '550 5.7.1 %s... Relaying denied'",
     ("5.7.1", "550 5.7.1 <x@elsewhere.example>... Relaying denied", "mx.example.jp"), {}),
    ("sendmail-remote-relay-ip", S, "x2@elsewhere.example", "norelaying", SRC_SM + " check_rcpt '550 5.7.1 %s... Relaying denied. IP name lookup failed'",
     ("5.7.1", "550 5.7.1 <x2@elsewhere.example>... Relaying denied. Proper authentication required.", "mx.example.jp"), {}),
    ("sendmail-remote-dnsbl", S, "u@example.jp", "blocked", SRC_SM + " FEATURE(dnsbl) 'Rejected: %s listed at %s'",
     ("5.7.1", "550 5.7.1 Rejected: 198.51.100.7 listed at zen.spamhaus.org", "mx.example.jp", "MAIL From"), {}),
    ("sendmail-remote-sender-domain", S, "u2@example.jp", "rejected", SRC_SM + " check_mail '553 5.1.8 %s... Domain of sender address %s does not exist'",
     ("5.1.8", "553 5.1.8 <sender@sluice.example>... Domain of sender address sender@sluice.example does not exist", "mx.example.jp", "MAIL From"), {}),
    ("sendmail-remote-toobig", S, "u3@example.jp", "mesgtoobig", SRC_SM + " '552 5.3.4 Message is too large; %ld bytes max'",
     ("5.3.4", "552 5.3.4 Message is too large; 10000000 bytes max", "mx.example.jp", "MAIL From"), {}),
    ("sendmail-remote-hasmoved", S, "old@example.jp", "hasmoved", "RFC 5321 4.2.2 / 3.4 '551 User not local; please try <forward-path>'; RFC 3463 X.1.6",
     ("5.1.6", "551 5.1.6 <old@example.jp>... User not local; please try <new@example.org>", "mx.example.jp"), {}),
    ("sendmail-deferred-timeout", S, "slow@example.jp", "expired", SRC_SM + " 'Deferred: Connection timed out with %s' then Timeout.queuereturn",
     ("4.4.7", "Deferred: Connection timed out with mx.example.jp.", None, "RCPT To", "Message could not be delivered for 5 days\nMessage will be deleted from queue"), {}),
    ("sendmail-service-unavailable", S, "u4@example.jp", "blocked", SRC_SM + " a refusal at the greeting (RFC 5321 3.1 '554 No SMTP service here'), no command sent",
     ("5.0.0", "554 5.0.0 Service unavailable", "mx.example.jp", None), {}),
    ("sendmail-local-mailer", S, "prog@sm.example", "mailererror", SRC_SM + " prog mailer: '554 5.3.0 unknown mailer error %d'",
     ("5.3.0", "554 5.3.0 unknown mailer error 1", None, "RCPT To", "554 5.3.0 <prog@sm.example>... unknown mailer error 1"), {}),
    ("sendmail-local-disabled", S, "dis@sm.example", "suspend", SRC_SM + " RFC 3463 X.2.1 'Mailbox disabled, not accepting messages'",
     ("5.2.1", "550 5.2.1 <dis@sm.example>... Mailbox disabled for this recipient"), {}),
    # --- qmail
    ("qmail-no-mailbox", Q, "nobody@qm.example", "userunknown", SRC_QM + " qmail-local 'Sorry, no mailbox here by that name. (#5.1.1)'",
     ("Sorry, no mailbox here by that name. (#5.1.1)",), {}),
    ("qmail-no-host", Q, "x@nxdomain.example", "hostunknown", SRC_QM + " qmail-remote 'Sorry, I couldn't find any host named %s. (#5.1.2)'",
     ("Sorry, I couldn't find any host named nxdomain.example. (#5.1.2)",), {}),
    ("qmail-remote-rcpt", Q, "nobody2@example.com", "userunknown", SRC_QM + " qmail-remote '%s does not like recipient.' 'Remote host said:'",
     ("192.0.2.25 does not like recipient.\nRemote host said: 550 5.1.1 <nobody2@example.com>: Recipient address rejected: User unknown in local recipient table\nGiving up on 192.0.2.25.",), {}),
    ("qmail-remote-sender", Q, "u@example.com", "rejected", SRC_QM + " qmail-remote 'Connected to %s but sender was rejected.'",
     ("Connected to 192.0.2.25 but sender was rejected.\nRemote host said: 553 5.1.8 <sender@sluice.example>: Sender address rejected: Domain not found",), {}),
    ("qmail-no-connection-given-up", Q, "late@example.com", "expired", SRC_QM + " qmail-send 'I'm not going to try again; this message has been in the queue too long.'",
     ("Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\nI'm not going to try again; this message has been in the queue too long.",), {}),
    ("qmail-quota", Q, "full@qm.example", "mailboxfull", "vpopmail vdelivermail: 'user is over quota' (qmail-local bounce)",
     ("user is over quota",), {}),
    ("qmail-loop", Q, "loop@qm.example", "networkerror", SRC_QM + " qmail-local 'This message is looping: it already has my Delivered-To line. (#5.4.6)'",
     ("This message is looping: it already has my Delivered-To line. (#5.4.6)",), {}),
    ("qmail-remote-data", Q, "u2@example.com", "spamdetected", SRC_QM + " qmail-remote 'failed after I sent the message.'",
     ("192.0.2.25 failed after I sent the message.\nRemote host said: 554 5.7.1 Spam message rejected",), {}),
    ("qmail-toobig", Q, "u3@example.com", "mesgtoobig", SRC_QM + " qmail-remote, remote '552 5.3.4 Message size exceeds fixed limit'",
     ("192.0.2.25 failed after I sent the message.\nRemote host said: 552 5.3.4 Message size exceeds fixed limit",), {}),
    # --- OpenSMTPD
    ("opensmtpd-rcpt", O, "nobody@example.com", "userunknown", SRC_OS,
     ("550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table",), {}),
    ("opensmtpd-nomx", O, "x@nxdomain.example", "hostunknown", SRC_OS + " mta.c 'Domain does not exist' (5.1.2)",
     ("Domain does not exist",), {}),
    ("opensmtpd-expired", O, "late@example.com", "expired", SRC_OS + " queue 'Envelope expired'",
     ("Envelope expired",), {}),
    ("opensmtpd-loop", O, "loop@example.com", "networkerror", SRC_OS + " smtp_session.c 'Loop detected'",
     ("Loop detected",), {}),
    # --- iCloud, Zoho, GMX/Web.de, Mail.ru, Yandex, Comcast, Cox
    ("icloud-nouser", P, "n@icloud.example", "userunknown", "Apple iCloud Mail postmaster (support.apple.com/HT204137): '550 5.1.1 <addr>: user does not exist'",
     ("5.1.1", "550 5.1.1 <n@icloud.example>: user does not exist", "mx01.mail.icloud.com"), {}),
    ("icloud-quota", P, "f@icloud.example", "mailboxfull", "Apple iCloud Mail postmaster: '552 5.2.2 <addr>: user is over quota'",
     ("5.2.2", "552 5.2.2 <f@icloud.example>: user is over quota", "mx01.mail.icloud.com"), {}),
    ("icloud-hm08", P, "p@icloud.example", "policyviolation", "Apple iCloud Mail postmaster: '554 5.7.1 [HM08] Message rejected due to local policy'",
     ("5.7.1", "554 5.7.1 [HM08] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", "mx01.mail.icloud.com", "END-OF-MESSAGE"), {}),
    ("icloud-cs01", P, "c@icloud.example", "blocked", "Apple iCloud Mail postmaster: '554 5.7.1 [CS01] Message rejected due to local policy' (IP reputation)",
     ("5.7.1", "554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", "mx01.mail.icloud.com", "MAIL FROM"), {}),
    ("zoho-nouser", P, "n@zoho.example", "userunknown", "Zoho Mail help 'SMTP error codes': '550 5.1.1 User does not exist'",
     ("5.1.1", "550 5.1.1 User does not exist - <n@zoho.example>", "mx.zoho.com"), {}),
    ("zoho-relay", P, "n2@zoho.example", "norelaying", "Zoho Mail help 'SMTP error codes': '553 Relaying disallowed'",
     ("5.0.0", "553 Relaying disallowed as sender@sluice.example", "mx.zoho.com"), {}),
    ("gmx-ptr", P, "n@gmx.example", "requireptr", "GMX/WEB.DE postmaster (postmaster.gmx.net/en/error-messages): 'Bad DNS PTR resource record'",
     ("4.0.0", "421 gmx.net (mxgmx117) Nemesis ESMTP Service not available No SMTP service Bad DNS PTR resource record. For explanation visit https://postmaster.gmx.net/en/case?c=r0601", "mx00.emig.gmx.net", None), {"action": "delayed", "delay": True}),
    ("gmx-nouser", P, "n2@gmx.example", "userunknown", "GMX/WEB.DE postmaster error messages: '550 Requested action not taken: mailbox unavailable'",
     ("5.0.0", "550 Requested action not taken: mailbox unavailable", "mx00.emig.gmx.net"), {}),
    ("gmx-quota", P, "n3@gmx.example", "mailboxfull", "GMX/WEB.DE postmaster error messages: '452 Requested action not taken: insufficient system storage' (mailbox over quota)",
     ("4.2.2", "452 4.2.2 Mailbox full: n3@gmx.example", "mx00.emig.gmx.net"), {"action": "delayed", "delay": True}),
    ("mailru-disabled", P, "n@mail.example", "suspend", "Mail.ru postmaster help: 'Local mailbox %s is unavailable: account is disabled'",
     ("5.0.0", "550 Message was not accepted -- invalid mailbox.  Local mailbox n@mail.example is unavailable: account is disabled", "mxs.mail.ru", "END-OF-MESSAGE"), {}),
    ("mailru-nouser", P, "n2@mail.example", "userunknown", "Mail.ru postmaster help: 'Local mailbox %s is unavailable: user not found'",
     ("5.0.0", "550 Message was not accepted -- invalid mailbox.  Local mailbox n2@mail.example is unavailable: user not found", "mxs.mail.ru"), {}),
    ("mailru-spam", P, "n3@mail.example", "spamdetected", "Mail.ru postmaster help 'notspam-support': '550 spam message rejected'",
     ("5.0.0", "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=abc or  report details to abuse@corp.mail.ru. Error code: ABC", "mxs.mail.ru", "END-OF-MESSAGE"), {}),
    ("yandex-nouser", P, "n@yandex.example", "userunknown", "Yandex Mail help (yandex.com/support/mail/web/spam/error-message): '550 5.7.1 No such user!'",
     ("5.7.1", "550 5.7.1 No such user!", "mx.yandex.ru"), {}),
    ("yandex-spam", P, "n2@yandex.example", "spamdetected", "Yandex Mail help: '554 5.7.1 Message rejected under suspicion of SPAM'",
     ("5.7.1", "554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1698123456-abcdefgh", "mx.yandex.ru", "END-OF-MESSAGE"), {}),
    ("comcast-bl", P, "n@comcast.example", "blocked", "Comcast postmaster (postmaster.comcast.net/smtp-error-codes.php) BL000000",
     ("5.0.0", "554 resimta-po-01v.sys.comcast.net comcast 198.51.100.7 Comcast block for spam.  Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000000", "mx1.comcast.net", None), {}),
    ("comcast-notcustomer", P, "n2@comcast.example", "userunknown", "Comcast postmaster smtp-error-codes '550 5.1.1 <addr> Not our Customer'",
     ("5.1.1", "550 5.1.1 <n2@comcast.example> Not our Customer", "mx1.comcast.net"), {}),
    ("comcast-rl", P, "n3@comcast.example", "toomanyconn", "Comcast postmaster smtp-error-codes RL000001",
     ("4.0.0", "421 resimta-po-01v.sys.comcast.net comcast 198.51.100.7 Too many sessions opened. Please see http://postmaster.comcast.net/smtp-error-codes.php#RL000001", "mx1.comcast.net", None), {"action": "delayed", "delay": True}),
    ("cox-cxbl", P, "n@cox.example", "blocked", "Cox postmaster error codes (cox.com/residential/support/email-error-codes): CXBL",
     ("5.0.0", "554 cxr.mx.a.cox.net cox 198.51.100.7 rejected - IP address blocked by Cox (CXBL). https://www.cox.com/internet/support/email-error-codes.html", "cxr.mx.a.cox.net", None), {}),
    # --- Filtering gateways
    ("mimecast-invalid", P, "n@mc.example", "userunknown", "Mimecast 'SMTP error codes' (community.mimecast.com): '550 Invalid Recipient'",
     ("5.0.0", "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [abcdEFgh-01]", "eu-smtp-inbound-1.mimecast.com"), {}),
    ("mimecast-spoof", P, "n2@mc.example", "policyviolation", "Mimecast 'SMTP error codes': '550 Rejected by header based Anti-Spoofing policy'",
     ("5.0.0", "550 Rejected by header based Anti-Spoofing policy: sender@sluice.example - https://community.mimecast.com/docs/DOC-1369#550 [abcdEFgh-02]", "eu-smtp-inbound-1.mimecast.com", "END-OF-MESSAGE"), {}),
    ("proofpoint-blocked", P, "n@pp.example", "blocked", "Proofpoint 'Proofpoint Dynamic Reputation' (ipcheck.proofpoint.com): '554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/'",
     ("5.7.1", "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7", "mx0a-001.pphosted.com", None), {}),
    ("proofpoint-spam", P, "n2@pp.example", "spamdetected", "Proofpoint Essentials: '550 5.7.1 Message blocked due to spam content in the message'",
     ("5.7.1", "550 5.7.1 Message blocked due to spam content in the message", "mx1-us1.ppe-hosted.com", "END-OF-MESSAGE"), {}),
    ("barracuda-reputation", P, "n@bc.example", "blocked", "Barracuda Central: '554 Service unavailable; Client host [%s] blocked using Barracuda Reputation'",
     ("5.7.1", "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?r=1&ip=198.51.100.7", "d123.ess.barracudanetworks.com", "MAIL FROM"), {}),
    ("barracuda-spam", P, "n2@bc.example", "spamdetected", "Barracuda ESS: '550 permanent failure for one or more recipients (%s:blocked)' after a spam score",
     ("5.7.1", "554 5.7.1 Message rejected due to content restrictions: spam score exceeded threshold", "d123.ess.barracudanetworks.com", "END-OF-MESSAGE"), {}),
    ("ironport-poor-reputation", P, "n@ip.example", "blocked", "Cisco Secure Email (IronPort) HAT BLOCKED default: '554 Your access to this mail system has been rejected due to the sending MTA's poor reputation'",
     ("5.0.0", "554 Your access to this mail system has been rejected due to the sending MTA's poor reputation. If you believe that this failure is in error, please contact the intended recipient via alternate means.", "mx1.ip.example", None), {}),
    ("ironport-ldap-reject", P, "n2@ip.example", "userunknown", "Cisco Secure Email (IronPort) LDAP accept query: '550 #5.1.0 Address rejected'",
     ("5.1.0", "550 #5.1.0 Address rejected n2@ip.example", "mx1.ip.example"), {}),
    ("ironport-concurrent", P, "n3@ip.example", "toomanyconn", "Cisco Secure Email (IronPort) HAT: '421 Too many concurrent SMTP connections from this IP address'",
     ("4.0.0", "421 Too many concurrent SMTP connections from this IP address; please try again later.", "mx1.ip.example", None), {"action": "delayed", "delay": True}),
    ("ironport-size", P, "n4@ip.example", "mesgtoobig", "Cisco Secure Email (IronPort) mail flow policy: '552 #5.3.4 message size limit exceeded'",
     ("5.3.4", "552 #5.3.4 message size limit exceeded", "mx1.ip.example", "END-OF-MESSAGE"), {}),
    # --- second round: other structures (Courier, Domino, Exim sender verify, Postfix address verification)
    ("courier-rcpt", C, "nobody@example.com", "userunknown", "Courier MTA courieresmtp DSN format; Postfix smtpd reply",
     ("550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",), {}),
    ("courier-relay", C, "x@elsewhere.example", "norelaying", "Courier MTA courieresmtp DSN format; Sendmail check_rcpt 'Relaying denied'",
     ("550 5.7.1 <x@elsewhere.example>... Relaying denied",), {}),
    ("courier-data-spam", C, "u@example.com", "spamdetected", "Courier MTA DSN format; rspamd reject action 'Spam message rejected'",
     ("554 5.7.1 Spam message rejected", "mx.example.com", "DATA"), {}),
    ("domino-not-listed", D, "jdoe@domino.example", "userunknown", "HCL Domino delivery failure report: 'User %s not listed in Domino Directory'",
     ("User jdoe (jdoe@domino.example) not listed in Domino Directory",), {}),
    ("exim-sender-callout", E, "u8@example.de", "rejected", "Exim ACL verify = sender/callout: '550-Verification failed for <%s>' '550 Sender verify failed'",
     ("550-Verification failed for <sender@sluice.example>\n    550-Unrouteable address\n    550 Sender verify failed", "mx.example.de", "MAIL FROM"), {}),
    ("exim-rcpt-callout", E, "u9@example.de", "userunknown", "Exim ACL verify = recipient/callout: '550-Callout verification failed:'",
     ("550-Callout verification failed:\n    550 550 5.1.1 <u9@example.de>: Recipient address rejected: User unknown in local recipient table", "mx.example.de"), {}),
    ("exim-long-failure", E, "late3@example.de", "expired", SRC_EX + " 'retry time not reached for any host after a long failure period'",
     ("retry time not reached for any host after a long failure period",), {}),
    ("postfix-unverified-rcpt", P, "uv@example.com", "userunknown", SRC_PF + " smtpd reject_unverified_recipient: 'Recipient address rejected: undeliverable address: %s'",
     ("5.1.1", "550 5.1.1 <uv@example.com>: Recipient address rejected: undeliverable address: host mx2.example.com[192.0.2.30] said: 550 5.1.1 <uv@example.com>: User unknown (in reply to RCPT TO command)", "mx.example.com"), {}),
    ("postfix-unverified-rcpt-temp", P, "uv2@example.com", "userunknown", SRC_PF + " smtpd reject_unverified_recipient (unverified_recipient_defer_code 450)",
     ("4.1.1", "450 4.1.1 <uv2@example.com>: Recipient address rejected: unverified address: host mx2.example.com[192.0.2.30] said: 550 5.1.1 <uv2@example.com>: User unknown (in reply to RCPT TO command)", "mx.example.com"), {"action": "delayed", "delay": True}),
    ("postfix-sender-access-denied", P, "sa@example.com", "rejected", SRC_PF + " smtpd check_sender_access REJECT: 'Sender address rejected: Access denied'",
     ("5.7.1", "554 5.7.1 <sender@sluice.example>: Sender address rejected: Access denied", "mx.example.com", "RCPT TO"), {}),
    ("postfix-helo-fqdn", P, "h@example.com", "blocked", SRC_PF + " smtpd reject_non_fqdn_helo_hostname: 'Helo command rejected: need fully-qualified hostname'",
     ("5.5.2", "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", "mx.example.com", "RCPT TO"), {}),
    ("postfix-postscreen-spamcop", P, "ps@example.com", "blocked", "Postfix postscreen(8) postscreen_dnsbl_action: '550 5.7.1 Service unavailable; client [%s] blocked using %s'",
     ("5.7.1", "550 5.7.1 Service unavailable; client [198.51.100.7] blocked using bl.spamcop.net", "mx.example.com", "RCPT TO"), {}),
    ("sendmail-too-many-hops", S, "loop@example.jp", "networkerror", SRC_SM + " '554 5.4.6 Too many hops %d (%d max): from %s via %s, to %s'",
     ("5.4.6", "554 5.4.6 Too many hops 26 (25 max): from <sender@sluice.example> via mx.example.jp, to <loop@example.jp>", "mx.example.jp", "DATA"), {}),
    ("ms-relay-541", X, "r4@contoso.example", "norelaying", SRC_MS + " 5.4.1 'Relay Access Denied'",
     ("5.4.1", "550 5.4.1 Relay Access Denied ATTR36 [AM0PR01MB1234.eurprd01.prod.outlook.com]"), {}),
    ("ms-connection-refused-expired", X, "late2@contoso.example", "expired", SRC_MS + " 4.4.316 'Connection refused'",
     ("4.4.316", "451 4.4.316 Connection refused [Message=Socket error code 10061] [LastAttemptedServerName=mx.contoso.example]", "BN8NAM11FT001.mail.protection.outlook.com", False), {}),
    ("ms-receive-limit", X, "rl@contoso.example", "toomanyconn", SRC_MS + " 5.2.121 'Recipient's per hour message receive limit from specific sender exceeded'",
     ("5.2.121", "550 5.2.121 RecipientThrottling; Recipient's per hour message receive limit from specific sender exceeded."), {}),
    ("ms-exrecip-2007", X, "gone@contoso.example", "userunknown", "Exchange Server 2007/2010 NDR ('#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##')",
     ("5.1.1", "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", "EX2010.contoso.example", False), {}),
    # --- third round
    ("postfix-pipe-died", P, "prog@sluice-local.example", "mailererror", SRC_PF + " pipe(8): 'Command died with status %d: \"%s\"' (Diagnostic-Code x-unix)",
     ("5.3.0", "Command died with status 1: \"/usr/bin/procmail\". Command output: procmail: Error while writing to \"/var/mail/prog\""), {"dtype": "x-unix"}),
    ("postfix-nodata", P, "a@nodata.example", "hostunknown", SRC_PF + " smtp(8) 'Host found but no data record of requested type'",
     ("5.4.4", "Host or domain name not found. Name service error for name=nodata.example type=AAAA: Host found but no data record of requested type"), {}),
    ("postfix-delay-too-many-conn", P, "tc@example.com", "toomanyconn", SRC_PF + " smtp(8) 'host %s refused to talk to me: %s' with a remote Postfix anvil 421",
     ("4.7.0", "host mx.example.com[192.0.2.25] refused to talk to me: 421 4.7.0 mx.example.com Error: too many connections from 198.51.100.7"), {"action": "delayed", "delay": True}),
    ("exim-tls-required", E, "tls@example.de", "securityerror", "Exim smtp transport hosts_require_tls: 'a TLS session is required, but the server did not offer TLS support'",
     ("a TLS session is required, but the server did not offer TLS support",), {}),
    ("exim-received-loop", E, "loop2@example.de", "networkerror", "Exim received_headers_max: 'Too many \"Received\" headers - suspected mail loop'",
     ("Too many \"Received\" headers - suspected mail loop",), {}),
    ("qmail-no-mx-no-ip", Q, "x@nomx.example", "notaccept", SRC_QM + " qmail-remote 'Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)'",
     ("Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)",), {}),
    ("qmail-greeting-failed", Q, "g@example.com", "blocked", SRC_QM + " qmail-remote 'Connected to %s but greeting failed.'",
     ("Connected to 192.0.2.25 but greeting failed.\nRemote host said: 554 mx.example.com ESMTP not accepting messages",), {}),
    ("qmail-helo-rejected", Q, "h@example.com", "blocked", SRC_QM + " qmail-remote 'Connected to %s but my name was rejected.'",
     ("Connected to 192.0.2.25 but my name was rejected.\nRemote host said: 550 5.7.1 Helo command rejected: Host not found",), {}),
    ("ms-unable-to-relay", X, "x@fabrikam2.example", "norelaying", "Exchange Server 2010/2013 receive connector: '550 5.7.1 Unable to relay'",
     ("5.7.1", "550 5.7.1 Unable to relay"), {}),
    ("ms-invalid-mime", X, "m@contoso.example", "contenterror", SRC_MS + " 5.6.211 'Invalid MIME Content'",
     ("5.6.211", "554 5.6.211 Invalid MIME Content: Single text value size (32868) exceeded allowed maximum (32768) for the 'Subject' header"), {}),
    ("gmail-auth-checks", P, "u15@gmail.example", "authfailure", SRC_GM + " 550 5.7.1 'does not have authentication information or fails to pass authentication checks'",
     ("5.7.1", "550-5.7.1 This message does not have authentication information or fails to 550-5.7.1 pass authentication checks (SPF or DKIM). To best protect our users 550-5.7.1 from spam, the message has been blocked. 550 5.7.1 https://support.google.com/mail/answer/81126#authentication a1si141 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-auth-checks-temp", P, "u16@gmail.example", "authfailure", SRC_GM + " 421 4.7.0 same text, temporary",
     ("4.7.0", "421-4.7.0 This message does not have authentication information or fails to 421-4.7.0 pass authentication checks (SPF or DKIM). To best protect our users 421-4.7.0 from spam, the message has been blocked. 421 4.7.0 https://support.google.com/mail/answer/81126#authentication a1si142 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {"action": "delayed", "delay": True}),
    ("gmail-domain-policy", P, "u17@gmail.example", "policyviolation", SRC_GM + " 550 5.7.1 'The user or domain that you are sending to (or from) has a policy that prohibited the mail'",
     ("5.7.1", "550-5.7.1 The user or domain that you are sending to (or from) has a policy that 550-5.7.1 prohibited the mail that you sent. Please contact your domain 550-5.7.1 administrator for further details. For more information, go to 550 5.7.1 https://support.google.com/a/answer/172179 a1si143 - gsmtp", "aspmx.l.google.com", "END-OF-MESSAGE"), {}),
    ("yahoo-tss01", P, "y7@yahoo.example", "blocked", SRC_YH + " 421 4.7.0 [TSS01]",
     ("4.7.0", "421 4.7.0 [TSS01] Messages from 198.51.100.7 temporarily deferred due to user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "mta7.am0.yahoodns.net", "MAIL FROM"), {"action": "delayed", "delay": True}),
    ("aol-will-not-accept", P, "a2@aol.example", "blocked", "AOL postmaster error codes: '521 5.2.1 : AOL will not accept delivery of this message.'",
     ("5.2.1", "521 5.2.1 :  AOL will not accept delivery of this message.", "mx-aol.mail.gm0.yahoodns.net", None), {}),
    ("barracuda-no-such-user", P, "n3@bc.example", "userunknown", "Barracuda Email Security Gateway: '550 No such user (%s)'",
     ("5.0.0", "550 No such user (n3@bc.example)", "d123.ess.barracudanetworks.com"), {}),
    ("mimecast-greylist", P, "n3@mc.example", "blocked", "Mimecast SMTP error codes: '451 Internal resource temporarily unavailable' (greylisting)",
     ("4.0.0", "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451", "eu-smtp-inbound-1.mimecast.com"), {"action": "delayed", "delay": True}),
    ("mimecast-user-entry", P, "n4@mc.example", "filtered", "Mimecast SMTP error codes: '550 Envelope blocked - User Entry' (the recipient's personal block list)",
     ("5.0.0", "550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550 [abcdEFgh-03]", "eu-smtp-inbound-1.mimecast.com"), {}),
    # --- fourth round (labels written before the first run)
    ("postfix-delay-conn-refused", P, "d1@example.com", "expired", SRC_PF + " bounce(5) delay template; smtp(8) 'connect to %s: Connection refused'",
     ("4.4.1", "delivery temporarily suspended: connect to mx.example.com[192.0.2.25]:25: Connection refused"), {"action": "delayed", "delay": True}),
    ("postfix-delay-mailbox-full", P, "d2@example.com", "mailboxfull", SRC_PF + " bounce(5) delay template; RFC 3463 X.2.2 remote reply",
     ("4.2.2", "452 4.2.2 <d2@example.com>: Mailbox full", "mx.example.com"), {"action": "delayed", "delay": True}),
    ("postfix-content-filter-spam", P, "d3@example.com", "spamdetected", "A content filter's reply relayed by Postfix smtp(8) ('Message rejected as spam')",
     ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering.", "mx.example.com", "END-OF-MESSAGE"), {}),
    ("ex2003-no-account", X3, "gone@ex2003.example", "userunknown", "Microsoft KB 284204 (Exchange 2003 NDR 5.1.1: 'The e-mail account does not exist at the organization this message was sent to')",
     ("The e-mail account does not exist at the organization this message was sent to.  Check the e-mail address, or contact the recipient directly to find out the correct address.\n            <ex2003.example #5.1.1>",), {}),
    ("ex2003-mailbox-full", X3, "full@ex2003.example", "mailboxfull", "Microsoft KB 284204 (Exchange 2003 NDR 5.2.2: 'The recipient's mailbox is full')",
     ("The recipient's mailbox is full and can't accept messages now.  Please try resending this message later, or contact the recipient directly.\n            <ex2003.example #5.2.2>",), {}),
    ("gmail-low-reputation", P, "u18@gmail.example", "blocked", SRC_GM + " 550 5.7.1 'likely suspicious due to the very low reputation of the sending IP address'",
     ("5.7.1", "550-5.7.1 [198.51.100.7] Gmail has detected that this message is likely 550-5.7.1 suspicious due to the very low reputation of the sending IP address. 550-5.7.1 To best protect our users from spam, the message has been blocked. 550 5.7.1 https://support.google.com/mail/answer/188131 a1si144 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-hops", P, "u19@gmail.example", "networkerror", SRC_GM + " 554 'Message exceeded 50 hops, this may indicate a mail loop'",
     ("5.4.6", "554-5.4.6 Message exceeded 50 hops, this may indicate a mail loop. 554 5.4.6 https://support.google.com/mail/?p=MailLoop a1si145 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-unauth-domain", P, "u20@gmail.example", "authfailure", SRC_GM + " 550 5.7.1 'Unauthenticated email is not accepted from this domain'",
     ("5.7.1", "550 5.7.1 Unauthenticated email is not accepted from this domain. a1si146 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {}),
    ("gmail-temp-rejected", P, "u21@gmail.example", "systemerror", SRC_GM + " 451 4.3.0 'Mail server temporarily rejected message'",
     ("4.3.0", "451 4.3.0 Mail server temporarily rejected message. a1si147 - gsmtp", "gmail-smtp-in.l.google.com", "END-OF-MESSAGE"), {"action": "delayed", "delay": True}),
    ("yahoo-ts03", P, "y8@yahoo.example", "blocked", SRC_YH + " 421 4.7.1 [TS03]",
     ("4.7.1", "421 4.7.1 [TS03] All messages from 198.51.100.7 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", "mta7.am0.yahoodns.net", None), {"action": "delayed", "delay": True}),
    ("outlook-s3140", P, "o5@outlook.example", "blocked", "Microsoft postmaster (sendersupport.olc.protection.outlook.com) S3140",
     ("5.7.1", "550 5.7.1 Unfortunately, messages from [198.51.100.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", "outlook-com.olc.protection.outlook.com", "MAIL FROM"), {}),
    ("zoho-greylisted", P, "z1@zoho.example", "blocked", "Zoho Mail help 'SMTP error codes': '451 4.7.1 Greylisted, try again after some time'",
     ("4.7.1", "451 4.7.1 Greylisted, try again after some time", "mx.zoho.com"), {"action": "delayed", "delay": True}),
    ("zoho-mailbox-full", P, "z2@zoho.example", "mailboxfull", "Zoho Mail help 'SMTP error codes': '552 5.2.2 Mailbox size limit exceeded'",
     ("5.2.2", "552 5.2.2 Mailbox size limit exceeded", "mx.zoho.com"), {}),
    ("gmx-blocklisted", P, "n4@gmx.example", "blocked", "GMX/WEB.DE postmaster error messages: '554 IP address is block listed' at the greeting",
     ("5.0.0", "554-gmx.net (mxgmx104) Nemesis ESMTP Service not available 554-No SMTP service 554-IP address is block listed. 554 For explanation visit https://postmaster.gmx.net/en/case?c=r0602", "mx00.emig.gmx.net", None), {}),
    ("sendmail-read-error-expired", S, "late2@example.jp", "expired", SRC_SM + " 'reply: read error from %s' deferred, then Timeout.queuereturn",
     ("4.4.7", "Deferred: 451 4.4.1 reply: read error from mx.example.jp.", None, "RCPT To", "Message could not be delivered for 5 days\nMessage will be deleted from queue"), {}),
    ("sendmail-relay-forged", S, "x3@elsewhere.example", "norelaying", SRC_SM + " check_rcpt '550 5.7.1 %s... Relaying denied. IP name possibly forged [%s]'",
     ("5.7.1", "550 5.7.1 <x3@elsewhere.example>... Relaying denied. IP name possibly forged [198.51.100.7]", "mx.example.jp"), {}),
]


def main():
    rows = ["file\trecipient\treason\thard\tsource"]
    for name, fmt, rcpt, reason, source, args, kw in SAMPLES:
        if fmt in (P, S):
            kw = dict(kw)
        if fmt in (Q, O, C, D, X3):
            body = FORMATS[fmt](rcpt, *args)
        else:
            body = FORMATS[fmt](rcpt, *args, **kw)
        fname = name + ".eml"
        with open(os.path.join(HERE, fname), "w", encoding="utf-8") as f:
            f.write(f"X-Docset-Source: {source}\n" + body)
        status = args[0] if fmt in (P, S, X) else ""
        temp = status.startswith("4") or kw.get("temp") or any(a and str(a).startswith(("421 ", "450 ", "451 ", "452 ")) for a in args[:1])
        hard = reason in HARD and not temp
        rows.append(f"{fname}\t{rcpt}\t{reason}\t{'true' if hard else 'false'}\t{source}")
    with open(os.path.join(HERE, "manifest.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    print(f"{len(SAMPLES)} samples")


if __name__ == "__main__":
    main()
