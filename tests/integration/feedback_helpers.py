"""
NAME
    feedback_helpers - the reports the feedback tests feed to sluice-feedback

DESCRIPTION
    One builder per kind of message, written once, so the tests of
    binding, effects, trust and sluicectl feed the same shapes:
      dsn_record(rcpt, diag, status, action)   one per-recipient block of
                                   a message/delivery-status part
      dsn(token, records, notice, ...)   a multipart/report DSN to the
                                   bounce address token, its text/plain
                                   part notice, its original's headers
                                   returned (Return-Path: <token>)
      arf(token, rcpt, ...)        an ARF abuse report (RFC 5965) whose
                                   returned message went from token to rcpt
      run_feedback(conf, data, rcpt, options)   sluice-feedback -c conf rcpt with
                                   data on standard input, as pipe(8) runs
                                   it; returns the CompletedProcess (bytes)
    Each test file keeps its own small wrapper with the values its
    assertions are about (recipients, status, diagnostic, hosts).
"""
import subprocess

import harness


def dsn_record(rcpt, diag, status="5.1.1", action="failed"):
    """The fields of one recipient in a message/delivery-status part."""
    return ("Final-Recipient: rfc822; %s\nAction: %s\nStatus: %s\nDiagnostic-Code: smtp; %s\n\n"
            % (rcpt, action, status, diag))


def dsn(token, records, notice, mta="mx.example.com", to=None, subject="hello",
        mailer_comment=True, auto_submitted=True):
    """A DSN to token: notice (text/plain), records (dsn_record()s) from
    Reporting-MTA mta, and the returned headers (To: to when given)."""
    return ("""From: MAILER-DAEMON@%(mta)s%(comment)s
To: %(token)s
Subject: Undelivered Mail Returned to Sender
%(auto)sMIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain

%(notice)s
--BB
Content-Type: message/delivery-status

Reporting-MTA: dns; %(mta)s

%(records)s--BB
Content-Type: text/rfc822-headers

Return-Path: <%(token)s>
From: shop@example.com
%(to)sSubject: %(subject)s

--BB--
""" % {"mta": mta, "comment": " (Mail Delivery System)" if mailer_comment else "",
       "token": token, "auto": "Auto-Submitted: auto-replied\n" if auto_submitted else "",
       "notice": notice, "records": records, "to": "To: %s\n" % to if to else "",
       "subject": subject}).encode()


def arf(token, rcpt, sender="fbl@isp.example.net", to="fbl@feedback.example.com",
        subject="buy now", body="body"):
    """An abuse report from sender to to about a message from token to rcpt."""
    return ("""From: %(sender)s
To: %(to)s
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="AA"

--AA
Content-Type: text/plain

This is an abuse report.

--AA
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: TestFBL/1.0
Version: 1
Original-Rcpt-To: %(rcpt)s

--AA
Content-Type: message/rfc822

Return-Path: <%(token)s>
From: shop@example.com
To: %(rcpt)s
Subject: %(subject)s

%(body)s
--AA--
""" % {"sender": sender, "to": to, "rcpt": rcpt, "token": token, "subject": subject,
       "body": body}).encode()


def run_feedback(conf, data, rcpt, options=(), timeout=120):
    """sluice-feedback [options] -c conf rcpt, data on standard input."""
    return subprocess.run([harness.program("feedback", "sluice-feedback")] + list(options)
                          + ["-c", conf, rcpt], input=data, capture_output=True, timeout=timeout)
