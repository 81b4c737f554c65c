-- sasl_redis_entry: a message from SASL user "carol" (described only in
-- Redis); the test looks at the milter's log, so any verdict will do
dofile(dir .. "/common.lua")
local conn = open("<c@example.com>", "192.0.2.9", "carol")
rcpt(conn, "<bob@remote.test>")
std_headers(conn, "c@example.com")
eoh(conn)
body(conn, "hi\r\n")
mt.eom(conn)
mt.disconnect(conn)
print("ok")
