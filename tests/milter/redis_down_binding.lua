-- redis_down_binding: Redis gone and on_internal_error = accept: the config
-- still decides the SASL binding. alice (tenant shop1) as shop2 and zed
-- (no config tenant: only Redis could know it) are refused for now
-- (451 4.7.1); alice as shop1 goes on unsigned.
dofile(dir .. "/common.lua")
local conn = open("<x@shop2.mall.test>", "192.0.2.7", "alice")
rcpt(conn, "<bob@remote.test>")
std_headers(conn, "x@shop2.mall.test")
eoh(conn, SMFIR_REPLYCODE)
mt.disconnect(conn)
conn = open("<z@shop1.mall.test>", "192.0.2.7", "zed")
rcpt(conn, "<bob@remote.test>")
std_headers(conn, "z@shop1.mall.test")
eoh(conn, SMFIR_REPLYCODE)
mt.disconnect(conn)
conn = open("<x@shop1.mall.test>", "192.0.2.7", "alice")
rcpt(conn, "<bob@remote.test>")
std_headers(conn, "Shop <x@shop1.mall.test>")
eoh(conn)
body(conn, "hi\r\n")
eom(conn)
if mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then fail("signed despite the trouble") end
mt.disconnect(conn)
print("ok")
