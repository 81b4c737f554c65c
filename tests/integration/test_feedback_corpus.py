"""
NAME
    test_feedback_corpus - sluice-feedback --classify against labelled real-world corpora

DESCRIPTION
    Runs the built sluice-feedback on ../shared/corpus (SLUICE_CORPUS
    overrides; default: the repository root's ../shared/corpus) and compares
    with the labels, which nobody on this project chose:
      bounces/   per recipient record (matched by order within a file, as
                 sisimai's own tests do): recipient, status, reason and
                 hard/soft; rows with status_is_sisimai_pseudo=true are
                 compared on reason and hard/soft only. Agreement rates are
                 PRINTED for all rows, for the dev split and the validation
                 split (below), and for all rows with the documented
                 deliberate disagreements (DELIBERATE, doc/feedback.md)
                 accepted. With the deliberate rows accepted, all rows must
                 reach the issue's 98% (recipient, hard/soft), 93% (reason)
                 and 97% (status). The RAW figures (deliberate rows counted
                 as disagreeing) must reach the MIN_RAW_* floors, and the
                 validation split the MIN_VAL_* ones: both are what the
                 classifier reached, so that any loss shows.
    Validation split: the corpus is split by family, the "lhost-X" or
    "rhost-X" part of the file name (else its last "__" part without a
    "-NN.eml" number, if it has one). 30 % of the 71 families (21, 76 of
    312 rows) were drawn once with random.Random(20261203).sample over
    the sorted family names and are written out in
    VALIDATION_FAMILIES, so the split stays fixed if the corpus grows;
    every other family is the DEV split. Classifier rules are written
    from the documentation and checked against the dev split only; the
    validation rows are only measured (their mismatches are not printed
    unless --show-validation is given), so their figures estimate how the
    rules do on families they were not tuned on. Run with -v for the dev
    mismatches.
      arf/, arf-extra/  kind complaint, feedback type, original recipient.
      dmarc/     every labelled field for parse_ok=true files; parse_ok=false
                 files give kind unknown with a reason.
    Deliberate disagreements with a label are listed in DELIBERATE below
    and explained in doc/feedback.md. Needs no root, no Redis.

    Run by hand for the figures and the list of mismatches:
        SLUICE_BUILDDIR=/tmp/build-fb2 /usr/bin/python3 \
            tests/integration/test_feedback_corpus.py [-v]
"""
import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
CORPUS = os.environ.get("SLUICE_CORPUS") or os.path.join(TOP, "..", "shared", "corpus")

# sisimai's placeholder for "the report does not name the recipient": we
# report an empty recipient instead of an address nobody owns (doc/feedback.md).
SISIMAI_NO_RCPT = "undisclosed-recipient-in-headers@libsisimai.org.invalid"
NOT_BOUNCE = ("vacation", "delivered", "feedback", "not-a-bounce")

# Deliberate disagreements with a label, explained in doc/feedback.md
# ("Where we differ from the labels"). Key: (local file, record index);
# value: what we answer on purpose. They do NOT count towards the raw
# figures, which alone are asserted; a second line prints the figures with
# these rows accepted, and each row must give exactly this answer.
DELIBERATE = {
    # 1. the same reply "554 5.7.0 Header error" is labelled policyviolation
    #    in one sample and filtered in the other: no reading of the message
    #    can give both; we say contenterror (a header problem) for both
    ("maildir__bsd__lhost-exim-03.eml", 1): {"reason": "contenterror"},
    ("maildir__bsd__lhost-gmail-03.eml", 1): {"reason": "contenterror"},
    # 2. the DSN says "Action: delayed" and "Status: 4.0.0" for "No MX found
    #    for domain": a temporary notaccept is soft (sisimai's own rule);
    #    the label is hard only because its parser of this MTA skips the
    #    DSN part and sees no code at all
    ("maildir__bsd__lhost-opensmtpd-12.eml", 1): {"reason": "notaccept", "hard": False},
    # 3. "550 5.2.1 <addr>... User Unknown": the status says the mailbox
    #    is disabled (RFC 3463 X.2.1), the words that the user is unknown.
    #    The labels follow the words when the reply answered RCPT
    #    (userunknown, six times) and the status otherwise (suspend three
    #    times, filtered twice); so do we, with suspend for the status.
    #    Here the DSN's transcript pipelines RCPT then DATA and ends with
    #    "503 Need RCPT", so the 550 answered RCPT: userunknown; and a
    #    record with no phase at all is the status's suspend, not filtered
    ("maildir__bsd__lhost-sendmail-02.eml", 2): {"reason": "userunknown", "hard": True},
    ("maildir__bsd__lhost-messagingserver-06.eml", 1): {"reason": "suspend"},
    # 4. a bounce by any reading, labelled not-a-bounce: a postmaster's
    #    "email bounce notification", "reject reason: Mailbox full",
    #    "target mail address: <addr>": a soft mailboxfull for that address
    ("maildir__not__rb-issue-368-bug.eml", 1): {"recipient": "xxxx@yyyyyy.net",
                                                "reason": "mailboxfull", "hard": False},
    # 5. the words of the reply name the reason: "Recipient address
    #    rejected: Policy violation" (policyviolation, labelled
    #    securityerror); "Missing reverse DNS" (requireptr, labelled
    #    blocked); Status 4.4.7 with "could not be delivered for 8 hours"
    #    (expired, RFC 3463 X.4.7, labelled networkerror)
    ("maildir__bsd__lhost-dragonfly-18.eml", 1): {"reason": "policyviolation"},
    ("maildir__bsd__lhost-exim-46.eml", 1): {"reason": "requireptr"},
    ("maildir__bsd__lhost-sendmail-11.eml", 1): {"reason": "expired"},
}

SPLITS = ("all", "dev", "validation", "all, deliberate accepted")

# Thresholds of the issue, asserted on all rows with the deliberate
# disagreements accepted (each of which must answer as documented).
MIN_RECIPIENT = 98.0
MIN_HARD = 98.0
MIN_REASON = 93.0
MIN_STATUS = 97.0
# Raw figures over all rows (deliberate rows counted as disagreeing), at
# what the classifier reached (doc/feedback.md, "Measured").
MIN_RAW_RECIPIENT = 99.3
MIN_RAW_HARD = 98.7
MIN_RAW_REASON = 95.8
MIN_RAW_STATUS = 99.1
# The validation split (families the rules were not written against), at
# what the classifier reached there (doc/feedback.md, "Measured").
MIN_VAL_RECIPIENT = 100.0
MIN_VAL_HARD = 100.0
MIN_VAL_REASON = 97.3
MIN_VAL_STATUS = 97.7


def read_tsv(path):
    """Rows of a labels.tsv as dicts (comment lines skipped, split on tabs)."""
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if not l.startswith("#")]
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:] if l.strip()]


def classify(paths):
    """Run --classify on paths; JSON objects grouped per file name."""
    exe = harness.program("feedback", "sluice-feedback")
    out = {}
    for i in range(0, len(paths), 100):
        chunk = paths[i:i + 100]
        p = subprocess.run([exe, "--classify"] + chunk, capture_output=True, timeout=300)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        for line in p.stdout.decode().splitlines():
            obj = json.loads(line)
            out.setdefault(os.path.basename(obj["file"]), []).append(obj)
    return out


def family(local_file):
    """The MTA/provider family of a corpus file: its lhost-X/rhost-X part."""
    m = re.search(r"((?:lhost|rhost)-[a-z0-9]+)", local_file)
    if m:
        return m.group(1)
    return re.sub(r"-\d+\.eml$", "", local_file.split("__")[-1])


# The validation families: random.Random(20261203).sample(sorted(the 71
# families of the corpus), 21), 30 %, drawn once (issue 9) and fixed here.
VALIDATION_FAMILIES = frozenset((
    "lhost-biglobe", "lhost-dragonfly", "lhost-exchange2003", "lhost-exchange2007",
    "lhost-googlegroups", "lhost-mcafee", "lhost-notes", "lhost-office365",
    "lhost-receivingses", "lhost-v5sendmail", "lhost-verizon", "lhost-x3", "lhost-x4",
    "lhost-yahoo", "lhost-yandex", "rhost-exchangeonline", "rhost-godaddy", "rhost-iua",
    "rhost-outlook", "rhost-spectrum", "rhost-tencentqq"))


def split_of(local_file):
    """'validation' for the held-out families (VALIDATION_FAMILIES), else 'dev'."""
    return "validation" if family(local_file) in VALIDATION_FAMILIES else "dev"


def pct(ok, n):
    return 100.0 * ok / n if n else 100.0


def bounce_compare(verbose=False):
    """Agreement counts over all label rows and over the non-dev rows."""
    d = os.path.join(CORPUS, "bounces")
    rows = read_tsv(os.path.join(d, "labels.tsv"))
    files = sorted({r["local_file"] for r in rows})
    got = classify([os.path.join(d, f) for f in files])
    stats = {s: {} for s in SPLITS}
    seen = {}
    mism = []
    for r in rows:
        idx = seen.get(r["local_file"], 0)
        seen[r["local_file"]] = idx + 1
        objs = [o for o in got.get(r["local_file"], []) if o.get("recipient") is not None]
        o = objs[idx] if idx < len(objs) else {}
        reason = r["expected_reason"]
        pseudo = r["status_is_sisimai_pseudo"] == "true"
        checks = {}
        if reason == "not-a-bounce":
            ok = (got.get(r["local_file"], [{}])[0].get("kind") == "unknown")
            checks = {"recipient": ok, "reason": ok, "hard": ok}
        else:
            checks["recipient"] = o.get("recipient", "") == r["recipient"]
            if not pseudo:
                checks["status"] = o.get("status", "") == r["expected_status"]
            checks["reason"] = o.get("reason") == reason
            want_hard = r["expected_hardbounce"]
            if want_hard == "na":
                checks["hard"] = o.get("hard") is False or o.get("reason") in NOT_BOUNCE
            else:
                checks["hard"] = o.get("hard") == (want_hard == "true")
        accepted = dict(checks)
        mine = DELIBERATE.get((r["local_file"], idx + 1), {})
        for k, v in mine.items():
            accepted[k] = accepted[k] or o.get(k) == v
        mysplit = split_of(r["local_file"])
        for split in SPLITS:
            if split in ("dev", "validation") and split != mysplit:
                continue
            for k, v in (accepted if split.endswith("accepted") else checks).items():
                s = stats[split].setdefault(k, [0, 0])
                s[0] += int(v)
                s[1] += 1
        if not all(checks.values()):
            mism.append((mysplit, r["local_file"], idx + 1, {k for k, v in checks.items() if not v},
                         {k: r[k] for k in ("recipient", "expected_status", "expected_reason",
                                            "expected_hardbounce")},
                         {k: o.get(k) for k in ("recipient", "status", "reason", "hard",
                                                "diagnostic")}))
    return stats, mism


def report(stats):
    lines = []
    for split in SPLITS:
        parts = []
        for k in ("recipient", "status", "reason", "hard"):
            ok, n = stats[split].get(k, [0, 0])
            parts.append("%s %d/%d = %.1f%%" % (k, ok, n, pct(ok, n)) if n else "%s: no rows" % k)
        lines.append("bounces %s rows: %s" % (split, "; ".join(parts)))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def bounce_stats():
    if not os.path.isdir(os.path.join(CORPUS, "bounces")):
        pytest.skip("corpus not found at %s (set SLUICE_CORPUS)" % CORPUS)
    return bounce_compare()


def test_bounce_agreement(bounce_stats):
    stats, mism = bounce_stats
    text = report(stats)
    print("\n" + text)
    for m in mism:
        print("MISMATCH", m[0], m[1], m[2], sorted(m[3]), m[4], m[5])
    a = stats["all, deliberate accepted"]
    assert pct(*a["recipient"]) >= MIN_RECIPIENT, text
    assert pct(*a["hard"]) >= MIN_HARD, text
    assert pct(*a["reason"]) >= MIN_REASON, text
    assert pct(*a["status"]) >= MIN_STATUS, text
    a = stats["all"]
    assert pct(*a["recipient"]) >= MIN_RAW_RECIPIENT, text
    assert pct(*a["hard"]) >= MIN_RAW_HARD, text
    assert pct(*a["reason"]) >= MIN_RAW_REASON, text
    assert pct(*a["status"]) >= MIN_RAW_STATUS, text
    v = stats["validation"]
    assert pct(*v["recipient"]) >= MIN_VAL_RECIPIENT, text
    assert pct(*v["hard"]) >= MIN_VAL_HARD, text
    assert pct(*v["reason"]) >= MIN_VAL_REASON, text
    assert pct(*v["status"]) >= MIN_VAL_STATUS, text


def test_deliberate_rows_answer_as_documented(bounce_stats):
    """Every DELIBERATE row gives exactly the documented answer (or agrees with the label)."""
    _, mism = bounce_stats
    wrong = []
    for _, f, idx, bad, want, got in mism:
        mine = DELIBERATE.get((f, idx))
        if mine is None:
            continue
        for k in bad:
            if k not in mine or got.get(k) != mine[k]:
                wrong.append((f, idx, k, want, got))
    assert not wrong, wrong


def test_hard_follows_reason(bounce_stats):
    """hard/soft is a function of the reason (and the code's class), as in the labels:
    no row agrees on the reason and disagrees on hard/soft, except a documented one."""
    _, mism = bounce_stats
    wrong = [(f, idx, want, got) for _, f, idx, bad, want, got in mism
             if "hard" in bad and "reason" not in bad and (f, idx) not in DELIBERATE]
    assert not wrong, wrong


def arf_expectations():
    exp = []
    for r in read_tsv(os.path.join(CORPUS, "arf", "labels.tsv")):
        exp.append((os.path.join(CORPUS, "arf", r["local_file"]), r["feedback_type"].lower(),
                    r["recipient"]))
    for r in read_tsv(os.path.join(CORPUS, "arf-extra", "labels.tsv")):
        want = r["feedback_type"].lower().replace("authfailure", "auth-failure")
        exp.append((os.path.join(CORPUS, "arf-extra", r["local_file"]), want,
                    r["original_rcpt_to"].strip("<>")))
    return exp


def test_arf():
    if not os.path.isdir(os.path.join(CORPUS, "arf")):
        pytest.skip("corpus not found")
    exp = arf_expectations()
    got = classify([e[0] for e in exp])
    bad = []
    for path, ftype, rcpt in exp:
        o = got[os.path.basename(path)][0]
        want_rcpt = "" if rcpt == SISIMAI_NO_RCPT else rcpt
        if (o["kind"], o.get("feedback_type"), o.get("recipient", "").lower()) != \
                ("complaint", ftype, want_rcpt.lower()):
            bad.append((os.path.basename(path), o, ftype, want_rcpt))
    print("\narf: %d/%d reports agree" % (len(exp) - len(bad), len(exp)))
    assert not bad, bad


DMARC_FIELDS = {"org_name": "org_name", "report_id": "report_id", "begin": "begin", "end": "end"}
DMARC_PP = {"pp_domain": "domain", "pp_p": "p", "pp_sp": "sp", "pp_pct": "pct",
            "pp_adkim": "adkim", "pp_aspf": "aspf"}
DMARC_REC = {"source_ip": "source_ip", "count": "count", "disposition": "disposition",
             "eval_dkim": "dkim", "eval_spf": "spf", "header_from": "header_from"}


def dmarc_auth(rec, method):
    """auth_results entries as the labels write them: domain:result,... (None when empty)"""
    return ",".join("%s:%s" % (a["domain"] or "None", a["result"] or "None")
                    for a in rec.get("auth_results", {}).get(method, []))


def test_dmarc():
    d = os.path.join(CORPUS, "dmarc")
    if not os.path.isdir(d):
        pytest.skip("corpus not found")
    rows = read_tsv(os.path.join(d, "labels.tsv"))
    files = sorted({r["local_file"] for r in rows})
    got = classify([os.path.join(d, f) for f in files])
    bad, fields = [], 0
    for r in rows:
        o = got[r["local_file"]][0]
        if r["parse_ok"] != "true":
            if o["kind"] != "unknown" or not o.get("reason"):
                bad.append((r["local_file"], "broken input not refused", o))
            continue
        if o["kind"] != "dmarc-aggregate":
            bad.append((r["local_file"], "not read", o))
            continue
        want, have = {}, {}
        for k, j in DMARC_FIELDS.items():
            want[k], have[k] = r[k], str(o[j])
        for k, j in DMARC_PP.items():
            want[k], have[k] = r[k], str(o["policy_published"][j])
        i = int(r["rec_index"]) - 1
        rec = o["records"][i] if i < len(o["records"]) else {}
        for k, j in DMARC_REC.items():
            want[k], have[k] = r[k], str(rec.get(j, ""))
        want["auth_dkim"], have["auth_dkim"] = r["auth_dkim"], dmarc_auth(rec, "dkim")
        want["auth_spf"], have["auth_spf"] = r["auth_spf"], dmarc_auth(rec, "spf")
        want["reasons"] = r["reasons"]
        have["reasons"] = ",".join(x["type"] for x in rec.get("reasons", []))
        fields += len(want)
        diff = {k: (want[k], have[k]) for k in want if want[k] != have[k]}
        if diff:
            bad.append((r["local_file"], r["rec_index"], diff))
        if len(o["records"]) != int(r["record_count"]):
            bad.append((r["local_file"], "record count", len(o["records"]), r["record_count"]))
    print("\ndmarc: %d rows, %d fields compared, %d mismatches" % (len(rows), fields, len(bad)))
    assert not bad, bad[:10]


if __name__ == "__main__":
    st, mm = bounce_compare()
    if "-v" in sys.argv:
        for m in mm:
            if m[0] == "dev" or "--show-validation" in sys.argv:
                print(m[0], m[1], m[2], sorted(m[3]), "\n   want", m[4], "\n   got ", m[5])
    print(report(st))
