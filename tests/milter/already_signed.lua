-- already_signed: an existing DKIM-Signature is kept, ours goes on top
dofile(dir .. "/common.lua")
local conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
header(conn, "DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed; d=app.test; s=x; h=from; bh=AAAA; b=BBBB")
std_headers(conn)
eoh(conn)
body(conn, "hello\r\n")
eom(conn)
local sig = signed(conn, "mail.example.com")
if mt.eom_check(conn, MT_HDRDELETE, "DKIM-Signature") then fail("existing signature removed") end
if string.find(string.lower(sig), "dkim-signature", 1, true) then fail("signed over DKIM-Signature") end
mt.disconnect(conn)
print("ok")
