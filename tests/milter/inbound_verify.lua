-- inbound_verify: with milter { inbound { verify = true } }, an outside,
-- unauthenticated client's message gets one Authentication-Results field
-- (inserted on top), a forged one claiming our authserv-id is deleted, and a
-- DMARC p=reject failure is refused with 550 5.7.1 at end of message.
-- Defines: authserv (the configured id).
dofile(dir .. "/common.lua")

-- one message from ip; returns the connection after eom
local function send(ip, forged)
	local conn = mt.connect(socket, 40, 0.05)
	if conn == nil then fail("cannot connect to " .. socket) end
	if mt.conninfo(conn, "client.test", ip) ~= nil then fail("conninfo") end
	expect(conn, SMFIR_CONTINUE, "connect")
	if mt.helo(conn, "helo.test") ~= nil then fail("helo") end
	expect(conn, SMFIR_CONTINUE, "helo")
	mt.macro(conn, SMFIC_MAIL, "i", "QIDIN" .. tostring(math.random(100000)))
	if mt.mailfrom(conn, "<a@example.com>") ~= nil then fail("mailfrom") end
	expect(conn, SMFIR_CONTINUE, "mail from an outside client (verified)")
	rcpt(conn, "<b@example.net>")
	header(conn, "From", "a@example.com")
	header(conn, "Subject", "hi")
	if forged then
		header(conn, "Authentication-Results", "other.example; spf=pass")
		header(conn, "Authentication-Results", authserv .. "; dmarc=pass header.from=example.com")
	end
	eoh(conn)
	body(conn, "Hello.\r\n")
	if mt.eom(conn) ~= nil then fail("eom") end
	return conn
end

local conn = send("192.0.2.1", true)
if mt.getreply(conn) ~= SMFIR_CONTINUE then fail("SPF-aligned message not accepted") end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then fail("no A-R inserted") end
local ar = mt.getheader(conn, "Authentication-Results", 0)
if ar == nil or string.find(ar, authserv .. ";", 1, true) ~= 1 then fail("A-R not ours: " .. tostring(ar)) end
if not string.find(ar, "dmarc=pass", 1, true) then fail("no dmarc=pass: " .. ar) end
if not mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results") then fail("forged A-R not removed") end
mt.disconnect(conn)

conn = send("192.0.2.99", false)
if mt.getreply(conn) ~= SMFIR_REPLYCODE then fail("DMARC reject not refused") end
mt.disconnect(conn)
print("ok")
