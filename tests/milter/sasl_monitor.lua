-- sasl_monitor: with sasl_binding = monitor, a user sending as another
-- tenant's domain is not refused, but the message gets no signature
dofile(dir .. "/common.lua")
local conn = open("<x@shop2.mall.test>", "192.0.2.7", "alice")
rcpt(conn, "<bob@remote.test>")
std_headers(conn, "x@shop2.mall.test")
header(conn, "X-Sluice-Category", "marketing")
eoh(conn)
body(conn, "hi\r\n")
eom(conn)
if mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then fail("signed for another tenant's domain") end
if mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe") then fail("category headers added") end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Sluice-Category") then fail("internal header kept") end
mt.disconnect(conn)
print("ok")
