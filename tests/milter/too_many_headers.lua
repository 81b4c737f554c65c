-- too_many_headers: past 10000 header fields the milter refuses the message
-- at end of header (5.3.4) instead of holding them all
dofile(dir .. "/common.lua")
local conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
std_headers(conn)
for i = 1, 10000 do
	header(conn, "X-Many", "h" .. tostring(i))
end
eoh(conn, SMFIR_REPLYCODE)
mt.disconnect(conn)
print("ok")
