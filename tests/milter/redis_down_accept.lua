-- redis_down_accept: same trouble with on_internal_error = accept: the
-- message goes on unsigned, internal headers still removed
dofile(dir .. "/common.lua")
local conn = open("<x@shop1.mall.test>", "192.0.2.7", "alice")
rcpt(conn, "<bob@remote.test>")
std_headers(conn, "x@shop1.mall.test")
header(conn, "X-Sluice-Category", "marketing")
eoh(conn)
body(conn, "hi\r\n")
eom(conn)
if mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then fail("signed despite the trouble") end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Sluice-Category") then fail("internal header kept") end
mt.disconnect(conn)
print("ok")
