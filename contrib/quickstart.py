#!/usr/bin/python3
"""
NAME
    quickstart.py - run Sluice in front of a real Postfix and Redis, show it working

SYNOPSIS
    contrib/quickstart.sh [--keep]      (builds first, then runs this)

DESCRIPTION
    Starts, in a temporary directory and on loopback and unix sockets only:
    redis-server, smtp-sink (standing in for the Internet), sluice-policyd,
    sluice-milter and a throwaway Postfix instance wired to both. Then it
    sends sample mail with plain SMTP and shows what a receiver would see:
    the rewritten envelope sender with its signed bounce token, the headers
    Sluice added, each DKIM signature checked by dkimpy, and what Sluice
    answered for a suppressed recipient, a one-click unsubscribe and a rate
    limit set live with redis-cli. Last, the receiving side: the receipt as
    delivered goes through "sluicectl verify" (the milter's inbound
    verification) with a zone file standing in for DNS, then a forged copy,
    and a bounce to the signed envelope sender through sluice-feedback.
    Then, with sluicectl: a provider block deferring mail to Gmail only, an
    IP-authenticated tenant's relay policy (TLS required, allowed senders),
    and a limit's charge refunded when the milter refuses the message.
    Everything is stopped by pid at the end, unless --keep.
"""
import os
import smtplib
import subprocess
import sys
import time
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("SLUICE_BUILDDIR", os.path.join(TOP, "build"))
import harness  # noqa: E402
import keys  # noqa: E402

CONF = """
log_level = "info"
secret_file = "%(secret)s"
%(redis)s
category "transactional" { subdomain = "mail"  feedback_type = "tx" }
category "marketing" {
  subdomain = "news"
  list_unsubscribe = true
  unsubscribe_url = "https://unsubscribe.example.com/u/%%t"
  feedback_type = "mkt"
}
domain "example.com" {
  default_category = "transactional"
  dkim "r2026" { algorithm = "rsa-sha256"      key = "%(rsa)s" }
  dkim "e2026" { algorithm = "ed25519-sha256"  key = "%(ed)s" }
}
milter { socket = "unix:%(msock)s"  socket_mode = "0666" }
policyd {
  listen = { "unix:%(psock)s" }
  http_listen = "127.0.0.1:%(http)d"
  block_reaction "google" { mode = "defer" }
}
tenant "office" {
  domains = { "office.example" }
  clients = { "127.0.0.2" }
}
"""


def say(text=""):
    print(text, flush=True)


def step(n, text):
    say("\n\033[1m%d. %s\033[0m" % (n, text))


def start(env):
    """Every server on loopback; returns a dict of what the steps need."""
    w = {"redis": env.redis(), "sink": env.sink(), "http": harness.free_port(), "env": env}
    rsa, w["rsa_txt"] = harness.dkim_keypair(env, "example.com", "rsa")
    ed, w["ed_txt"] = harness.dkim_keypair(env, "example.com", "ed25519")
    msock, psock = os.path.join(env.dir, "milter.sock"), os.path.join(env.dir, "policy.sock")
    secret = os.path.join(env.dir, "token.key")
    w["conf"] = env.file("sluice.conf", CONF % {
        "secret": secret, "redis": w["redis"].conf_section(), "rsa": rsa, "ed": ed,
        "msock": msock, "psock": psock, "http": w["http"]}, 0o600)
    say("config      %s" % w["conf"])
    subprocess.run([harness.program("ctl", "sluicectl"), "-c", w["conf"], "secret", "init"], check=True,
                   stdout=subprocess.DEVNULL)
    say("keyring     %s (sluicectl secret init: the key of the bounce and unsubscribe tokens)" % secret)
    w["policyd"] = env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"),
                                                 "-f", "-c", w["conf"]],
                              ready=lambda: harness.can_connect(psock))
    w["milter"] = env.daemon("sluice-milter", [harness.program("milter", "sluice-milter"),
                                               "-f", "-c", w["conf"]],
                             ready=lambda: harness.can_connect(msock))
    w["pf"] = env.postfix(relay=w["sink"], milter="unix:" + msock, policy="unix:" + psock)
    say("redis       %s" % w["redis"].sock)
    say("policyd     %s, http://127.0.0.1:%d" % (psock, w["http"]))
    say("milter      %s" % msock)
    say("postfix     127.0.0.1:%d (config %s)" % (w["pf"].port, w["pf"].etc))
    say("smtp-sink   127.0.0.1:%d (the 'Internet'; files in %s)" % (w["sink"].port, w["sink"].dir))
    return w


def records(w):
    """The DKIM TXT records a receiver would find, for the signing subdomains."""
    out = {}
    for sub in ("", "mail.", "news."):
        out["r2026._domainkey.%sexample.com" % sub] = w["rsa_txt"]
        out["e2026._domainkey.%sexample.com" % sub] = w["ed_txt"]
    return out


def send(w, subject, rcpt, extra="", sender="app@example.com", client="127.0.0.1"):
    """One message from the application (from address client); returns the SMTP refusal, or None."""
    msg = ("From: Example App <%s>\r\nTo: %s\r\nSubject: %s\r\n"
           "Message-ID: <%s@app.example.com>\r\n%s\r\nHello from the quick start.\r\n"
           % (sender, rcpt, subject, subject.replace(" ", "-"), extra))
    try:
        with smtplib.SMTP("127.0.0.1", w["pf"].port, local_hostname="app.example.com",
                          source_address=(client, 0)) as s:
            s.sendmail(sender, [rcpt], msg)
        return None
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return "%d %s" % (code, text.decode())


def arrived(w, subject):
    """Wait for the message with this subject at smtp-sink."""
    def find():
        for env, raw in w["sink"].messages():
            if ("Subject: %s" % subject).encode() in raw:
                return env, raw
        return None
    return harness.wait_for(find, 30, "'%s' at smtp-sink" % subject)


def show(w, subject):
    """Print what a receiver sees of one message."""
    env, raw = arrived(w, subject)
    say("   envelope sender  %s" % env["mail_from"])
    for name in ("From", "Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID"):
        for v in harness.header_values(raw, name):
            say("   %-16s %s" % (name, v))
    for d, s, a, ok in harness.dkim_verify(raw, records(w)):
        say("   DKIM-Signature   d=%s s=%s a=%s  dkimpy: %s" % (d, s, a, "pass" if ok else "FAIL"))
    return raw


def one_click(w, raw):
    """POST the List-Unsubscribe URL's token to sluice-policyd, as a proxy would."""
    lu = harness.header_values(raw, "List-Unsubscribe")[0]
    url = [p.strip("<> \t") for p in lu.split(",") if "https://" in p][0]
    token = url.rsplit("/", 1)[1]
    local = "http://127.0.0.1:%d/u/%s" % (w["http"], token)
    req = urllib.request.Request(local, data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return url, r.status


def inbound(w, raw):
    """The delivered receipt, then a forged copy, through sluicectl verify over a zone file."""
    lines = ['%s TXT "%s"' % (name, txt) for name, txt in records(w).items()]
    lines += ['_dmarc.example.com TXT "v=DMARC1; p=reject"',
              'mail.example.com TXT "v=spf1 ip4:192.0.2.10 -all"', "example.com A 192.0.2.10"]
    zone = w["env"].file("inbound.zone", "\n".join(lines) + "\n")
    for title, msg, ip in (("as delivered, from the relay 192.0.2.10", raw, "192.0.2.10"),
                           ("forged: another body, from 198.51.100.7", raw.replace(
                               b"Hello from the quick start.", b"Please pay this invoice."), "198.51.100.7")):
        say("   %s:" % title)
        r = subprocess.run([harness.program("ctl", "sluicectl"), "verify", "--zone", zone, "--ip", ip,
                            "--helo", "relay.example.com", "--mail-from", "bounce@mail.example.com",
                            "--authserv-id", "mx.dest.example"], input=msg, capture_output=True, timeout=60)
        for line in (r.stdout or r.stderr).decode().splitlines():
            say("     " + line)


DSN = """From: MAILER-DAEMON@mx.dest.example (Mail Delivery System)\r
To: %(token)s\r
Subject: Undelivered Mail Returned to Sender\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r
\r
--b\r
Content-Type: text/plain\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
--b\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.dest.example\r
\r
Final-Recipient: rfc822; %(rcpt)s\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <%(rcpt)s>: Recipient address rejected: User unknown in local recipient table\r
--b--\r
"""


def bounce(w, token, rcpt):
    """A DSN to the token address, through sluice-feedback as Postfix's pipe(8) runs it."""
    r = subprocess.run([harness.program("feedback", "sluice-feedback"), "-c", w["conf"], token],
                       input=(DSN % {"token": token, "rcpt": rcpt}).encode(), capture_output=True, timeout=60)
    entry = w["redis"].cli("HGET", keys.supp("global", rcpt), "reason").strip()
    say("   DSN naming %s: exit %d, %s" % (rcpt, r.returncode,
        ("suppressed (%s)" % entry) if entry else "nobody suppressed"))


def ctl(w, *args, show=True):
    """Run sluicectl as an admin would, print the command line and what it printed."""
    say("   # sluicectl %s" % " ".join(("'%s'" % a) if set(a) & set("*${} ") else a for a in args))
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", w["conf"]] + list(args),
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        sys.exit("quickstart: sluicectl %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    if show:
        for line in r.stdout.decode().splitlines():
            say("     " + line)
    return r.stdout.decode()


def delivered(w, subject):
    """'delivered to smtp-sink' once the message with this subject arrived there."""
    arrived(w, subject)
    return "accepted, delivered to smtp-sink"


def provider_block(w):
    """Step 10: a provider block set by hand, its deferral at RCPT, then cleared."""
    ctl(w, "block", "set", "google", "*", "--ttl", "3600", "--reason", "421 4.7.28 unusual rate (quick start)")
    ctl(w, "block", "list")
    time.sleep(1.2)  # sluice-policyd re-reads blocks every 500 ms
    for rcpt in ("friend@gmail.com", "partner@dest.example"):
        subject = "Alert to %s" % rcpt.split("@")[1]
        answer = send(w, subject, rcpt, sender="alerts@example.com")
        say("   to %-21s %s" % (rcpt + ":", answer or delivered(w, subject)))
    ctl(w, "block", "clear", "google", "*", "--no-ramp")
    time.sleep(1.2)
    answer = send(w, "After the block", "friend@gmail.com", sender="alerts@example.com")
    say("   to %-21s %s" % ("friend@gmail.com:", answer or delivered(w, "After the block")))


def tenant_policy(w):
    """Step 11: an IP-authenticated tenant that must use STARTTLS, then only its own domains."""
    ctl(w, "tenant", "policy", "office", "require_tls=yes")
    time.sleep(1.2)  # a tenant's policy is cached one second
    say("   plain-text SMTP from 127.0.0.2, scanner@office.example:")
    say("     %s" % (send(w, "Scan 1", "partner@dest.example", sender="scanner@office.example",
                          client="127.0.0.2") or "accepted (NOT expected)"))
    ctl(w, "tenant", "policy", "office", "require_tls=default", show=False)
    time.sleep(1.2)
    say("   TLS no longer required; from 127.0.0.2, a sender outside the tenant's domains:")
    say("     %s" % (send(w, "Scan 2", "partner@dest.example", sender="app@example.com",
                          client="127.0.0.2") or "accepted (NOT expected)"))


def quota(w):
    """The redis-cli command that shows the billing limit's counter today, and its value."""
    key = w["redis"].cli("--scan", "--pattern", keys.key("quota", "billing", "*", "*")).split("\n")[0]
    say("   # redis-cli GET '%s'" % key)
    say("     %s" % (w["redis"].cli("GET", key) if key else "(nil)"))


def refund(w):
    """Step 12: a message the milter refuses after RCPT costs nothing."""
    ctl(w, "limits", "set", "billing", "key=${sender}", "match=sender=billing@example.com",
        "window=day", "max=1000")
    time.sleep(1.2)  # sluice-policyd re-reads limits every 500 ms
    say("   an invoice from billing@example.com: %s" % (
        send(w, "Invoice 1", "payer@dest.example", sender="billing@example.com") or "accepted"))
    quota(w)
    try:
        answer = send(w, "Billing news", "reader@dest.example", "X-Sluice-Category: marketing\r\n",
                      sender="billing@example.com") or "accepted (NOT expected)"
    except smtplib.SMTPDataError as e:
        answer = "charged at RCPT, then refused by sluice-milter:\n     %d %s" % (
            e.smtp_code, e.smtp_error.decode())
    say("   its newsletter to reader@dest.example (unsubscribed in step 4): %s" % answer)
    quota(w)
    time.sleep(1.2)  # sluice-policyd writes its statistics every 500 ms
    out = ctl(w, "limits", "show", "billing", show=False)
    counts = dict(line.strip().split(": ", 1) for line in out.splitlines()
                  if line.strip().startswith(("passed:", "refunded:")))
    say("     counters: passed %s, refunded %s (two charged at RCPT, one given back)"
        % (counts.get("passed", "0"), counts.get("refunded", "0")))


def reload(w):
    """SIGHUP sluice-policyd and sluice-milter; wait until both reloaded their config."""
    before = [w[d].output().count("configuration reloaded") for d in ("policyd", "milter")]
    for d in ("policyd", "milter"):
        w[d].signal(1)
    for d, n in zip(("policyd", "milter"), before):
        harness.wait_for(lambda: w[d].output().count("configuration reloaded") > n, 20,
                         "sluice-%s reloaded" % d)


def compact(w):
    """Step 13: the suppression list moved to the compact layout while mail flows."""
    with open(w["conf"], "a") as f:
        f.write('suppression {\n  layout = "compact"\n  migrating = yes\n}\n')
    say('   sluice.conf: suppression { layout = "compact" migrating = yes }; kill -HUP policyd, milter')
    reload(w)
    ctl(w, "suppress", "migrate", "--to", "compact")
    say("   # redis-cli FCALL sluice_supp_get 0 bounced@dest.example")
    for line in w["redis"].cli("FCALL", "sluice_supp_get", "0", "bounced@dest.example").splitlines():
        say("     " + line)
    say("   Postfix answers: %s" % (send(w, "After the move", "bounced@dest.example")
                                    or "accepted (NOT expected)"))


def demo(w):
    """The sample mail and what came of it."""
    step(1, "A transactional message from app@example.com (client 127.0.0.1, an internal network)")
    refused = send(w, "Your receipt", "customer@dest.example")
    say("   refused: %s" % refused) if refused else show(w, "Your receipt")
    step(2, "A newsletter, marked by the application with X-Sluice-Category: marketing")
    news = None
    if send(w, "November news", "reader@dest.example", "X-Sluice-Category: marketing\r\n") is None:
        news = show(w, "November news")
    step(3, "An address that bounced: added with redis-cli, refused at RCPT by sluice-policyd")
    key = keys.supp("global", "bounced@dest.example")
    w["redis"].cli("HSET", key, "reason", "hard-bounce", "source", "quickstart", "added", int(time.time()))
    say("   redis-cli HSET '%s' reason hard-bounce ..." % key)
    say("   Postfix answered: %s" % send(w, "To a bounced address", "bounced@dest.example"))
    if news is not None:
        step(4, "One-click unsubscribe (RFC 8058) from the newsletter's List-Unsubscribe")
        url, status = one_click(w, news)
        say("   POST %s -> HTTP %d" % (url[:72] + "...", status))
        try:
            answer = send(w, "December news", "reader@dest.example", "X-Sluice-Category: marketing\r\n")
            answer = ("refused at RCPT: %s" % answer) if answer else "accepted (NOT expected: see doc/milter.md)"
        except smtplib.SMTPDataError as e:
            answer = ("refused at end of data: %d %s\n   (by sluice-milter: the category is only known from the "
                      "headers, after RCPT)" % (e.smtp_code, e.smtp_error.decode()))
        say("   next newsletter to reader@dest.example: %s" % answer)
        say("   a receipt to the same reader: %s" % (
            send(w, "Another receipt", "reader@dest.example") or "accepted (transactional mail still flows)"))
    step(5, "A rate limit set live with redis-cli: 2 messages an hour from app@example.com")
    limit, limits = keys.key("limit", "quickstart"), keys.key("limits")
    w["redis"].cli("HSET", limit, "key", "${sender}", "rate", "2/hour",
                   "match", "sender=app@example.com", "unit", "messages", "action", "defer")
    w["redis"].cli("SADD", limits, "quickstart")
    say("   redis-cli HSET '%s' key '${sender}' rate 2/hour match sender=app@example.com ..." % limit)
    say("   redis-cli SADD '%s' quickstart" % limits)
    time.sleep(1.2)  # sluice-policyd re-reads limits every 500 ms
    for n in (1, 2, 3):
        answer = send(w, "Order update %d" % n, "customer@dest.example")
        say("   message %d: %s" % (n, answer or "accepted"))
    step(6, "What sluice-policyd logged (one line per request)")
    for line in w["policyd"].output().splitlines():
        if " request: " in line:
            say("   " + line.split(": ", 1)[-1])
    step(7, "What sluice-milter logged (one line per message)")
    for line in w["milter"].output().splitlines():
        if "category=" in line:
            say("   " + line.split(": ", 1)[-1])
    step(8, "The receiving side: sluicectl verify (sluice-milter's inbound SPF, DKIM, DMARC)")
    env, raw = arrived(w, "Your receipt")
    inbound(w, raw)
    step(9, "A bounce comes back to the receipt's signed envelope sender (sluice-feedback)")
    token = env["mail_from"].strip("<>")
    say("   to %s" % token)
    bounce(w, token, "stranger@dest.example")
    say("   (a forged DSN: the token is genuine, but stranger@ was not a recipient of that message)")
    bounce(w, token, "customer@dest.example")
    say("   (the message's real recipient: suppressed globally; sluice-policyd refuses it from now on)")
    say("   Postfix answers: %s" % send(w, "After the bounce", "customer@dest.example"))
    step(10, "Google blocks our mail: block_reaction \"google\" { mode = \"defer\" } holds it back")
    say("   (sluice-logd sets blocks from Postfix's log; here one is set by hand)")
    provider_block(w)
    step(11, "A tenant's relay policy: tenant \"office\" { clients = { \"127.0.0.2\" } }, no SMTP AUTH")
    tenant_policy(w)
    if news is not None:
        step(12, "A limit refund: a message the milter refuses after RCPT leaves the counter unchanged")
        refund(w)
    step(13, "Suppression for 100 M addresses: the compact layout (about 59 bytes an address)")
    compact(w)


def main():
    keep = "--keep" in sys.argv
    if os.geteuid() != 0:
        sys.exit("quickstart: run as root (it starts a throwaway Postfix instance)")
    env = harness.Env("quickstart")
    try:
        say("\033[1mSluice quick start\033[0m: everything below runs in %s" % env.dir)
        w = start(env)
        demo(w)
        if keep:
            say("\nStill running (--keep). Send mail to 127.0.0.1:%d; stop with: kill %s"
                % (w["pf"].port, " ".join(str(p.pid) for p in env.procs)))
            say("and: postfix -c %s stop" % w["pf"].etc)
            env.procs.clear()
            env.postfixes.clear()
            return
    finally:
        if not keep:
            env.close()
    say("\nAll stopped. Run the tests with: tests/run-all.sh")


if __name__ == "__main__":
    main()
