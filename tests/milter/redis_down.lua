-- redis_down: the SASL lookup cannot reach Redis: with the default
-- on_internal_error the message is refused temporarily (4.3.0)
dofile(dir .. "/common.lua")
local conn = open("<x@shop1.mall.test>", "192.0.2.7", "alice")
rcpt(conn, "<bob@remote.test>")
std_headers(conn, "x@shop1.mall.test")
eoh(conn, SMFIR_REPLYCODE)
mt.disconnect(conn)
print("ok")
