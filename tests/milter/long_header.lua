-- long_header: header lines of 1018 and 1009 characters (over the 998 limit;
-- miltertest itself overflows its stack above about 1024, so longer lines are
-- tested through Postfix in test_milter_outbound.py) are signed as received
dofile(dir .. "/common.lua")
local conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
std_headers(conn)
header(conn, "X-Long", string.rep("x", 1010))
header(conn, "Subject", string.rep("s", 1000))
eoh(conn)
body(conn, "body\r\n")
eom(conn)
signed(conn, "mail.example.com")
mt.disconnect(conn)
print("ok")
