-- sighup: a reload in the middle of a message does not change the config
-- under it: signed with the old category subdomain; the next message gets
-- the new one. Python passes newconf (a copy to install), conf and pid.
dofile(dir .. "/common.lua")
local conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
std_headers(conn)
eoh(conn)
if not os.execute("cp " .. newconf .. " " .. conf .. " && kill -HUP " .. pid) then fail("reload") end
mt.sleep(1)
body(conn, "hello\r\n")
eom(conn)
signed(conn, "mail.example.com")
mt.disconnect(conn)
conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
std_headers(conn)
eoh(conn)
body(conn, "hello\r\n")
eom(conn)
signed(conn, "tx.example.com")
mt.disconnect(conn)
print("ok")
