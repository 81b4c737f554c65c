-- inbound_one: one message from a file, sent as an outside client would
-- (test_inbound_verify.py runs every case of the suite through it).
-- Defines: socket, dir, msgfile (CRLF message), ip, helo, mailfrom.
-- Prints "reply accept|refused" (refused: a reply code set), "ar <value>" for the
-- inserted Authentication-Results field, "removed" when an existing one
-- was deleted, "quarantine" for smfi_quarantine, then "ok".
dofile(dir .. "/common.lua")

local f = io.open(msgfile, "rb")
if f == nil then fail("cannot read " .. msgfile) end
local text = f:read("*a")
f:close()
local head, bodytext = string.match(text, "^(.-)\r\n\r\n(.*)$")
if head == nil then head, bodytext = text, "" end

local conn = mt.connect(socket, 40, 0.05)
if conn == nil then fail("cannot connect to " .. socket) end
if mt.conninfo(conn, "client.test", ip) ~= nil then fail("conninfo") end
expect(conn, SMFIR_CONTINUE, "connect")
if mt.helo(conn, helo) ~= nil then fail("helo") end
expect(conn, SMFIR_CONTINUE, "helo")
mt.macro(conn, SMFIC_MAIL, "i", "QIDONE" .. tostring(math.random(100000)))
if mt.mailfrom(conn, "<" .. mailfrom .. ">") ~= nil then fail("mailfrom") end
expect(conn, SMFIR_CONTINUE, "mail from")
rcpt(conn, "<b@example.net>")
-- one field per header: folded lines stay in the value; the space after
-- the colon is dropped, as Postfix does without SMFIP_HDR_LEADSPC
local name, value
for line in string.gmatch(head .. "\r\n", "(.-)\r\n") do
	if string.match(line, "^[ \t]") and name then
		value = value .. "\r\n" .. line
	else
		if name then header(conn, name, value) end
		name, value = string.match(line, "^([^:]+):[ ]?(.*)$")
	end
end
if name then header(conn, name, value) end
eoh(conn)
if bodytext ~= "" then body(conn, bodytext) end
if mt.eom(conn) ~= nil then fail("eom") end
local r = mt.getreply(conn)
if r == SMFIR_CONTINUE or r == SMFIR_ACCEPT then
	print("reply accept")
elseif r == SMFIR_REPLYCODE then
	print("reply refused")		-- smfi_setreply: the milter's log says which
else
	fail("unexpected reply " .. tostring(r))
end
local ar = mt.getheader(conn, "Authentication-Results", 0)
if ar ~= nil then print("ar " .. (string.gsub(ar, "[\r\n]+", " "))) end
if mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results") then print("removed") end
if mt.eom_check(conn, MT_QUARANTINE) then print("quarantine") end
mt.disconnect(conn)
print("ok")
