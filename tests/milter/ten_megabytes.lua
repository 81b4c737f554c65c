-- ten_megabytes: a 10 MB body in 64 KB chunks is signed
dofile(dir .. "/common.lua")
local conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
std_headers(conn)
eoh(conn)
local line = string.rep("0123456789abcdef", 4) .. "\r\n"
local chunk = string.rep(line, 65000 // #line)
local sent = 0
while sent < 10 * 1024 * 1024 do
	body(conn, chunk)
	sent = sent + #chunk
end
eom(conn)
signed(conn, "mail.example.com")
mt.disconnect(conn)
print("ok")
