-- common.lua - helpers for the sluice-milter miltertest scenarios
-- Every scenario is run as: miltertest -s X.lua -D socket=unix:/path -D dir=<this dir>
-- A Lua error makes miltertest exit 1 without a word (NOTES.md), so fail()
-- prints the reason first; each scenario prints "ok" at its very end.

-- A reply may take more than miltertest's default 10 s: an ASan milter signing
-- ten megabytes while six test workers and other builds share two cores.
mt.set_timeout(120)

function fail(msg)
	print("FAIL: " .. msg)
	error(msg)
end

function expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		fail(what .. ": reply " .. tostring(got) .. ", wanted " .. tostring(want))
	end
end

-- open: connect as client ip (default 127.0.0.1, an internal network),
-- optionally SASL-authenticated as user, and start a message from sender
function open(sender, ip, user)
	local conn = mt.connect(socket, 40, 0.05)
	if conn == nil then fail("cannot connect to " .. socket) end
	if mt.conninfo(conn, "client.test", ip or "127.0.0.1") ~= nil then fail("conninfo") end
	expect(conn, SMFIR_CONTINUE, "connect")
	-- HELO before the MAIL macros, as an MTA does: libmilter clears later
	-- stages' macros at HELO, and miltertest would send one on its own
	if mt.helo(conn, "client.test") ~= nil then fail("helo") end
	expect(conn, SMFIR_CONTINUE, "helo")
	if user then
		mt.macro(conn, SMFIC_MAIL, "i", "QID" .. tostring(math.random(100000)), "{auth_authen}", user)
	else
		mt.macro(conn, SMFIC_MAIL, "i", "QID" .. tostring(math.random(100000)))
	end
	if mt.mailfrom(conn, sender) ~= nil then fail("mailfrom") end
	return conn
end

function rcpt(conn, addr)
	if mt.rcptto(conn, addr) ~= nil then fail("rcptto " .. addr) end
	expect(conn, SMFIR_CONTINUE, "rcpt " .. addr)
end

function header(conn, name, value)
	if mt.header(conn, name, value) ~= nil then fail("header " .. name) end
	expect(conn, SMFIR_CONTINUE, "header " .. name)
end

function eoh(conn, want)
	if mt.eoh(conn) ~= nil then fail("eoh") end
	expect(conn, want or SMFIR_CONTINUE, "eoh")
end

function body(conn, text)
	if mt.bodystring(conn, text) ~= nil then fail("body") end
	expect(conn, SMFIR_CONTINUE, "body")
end

function eom(conn)
	if mt.eom(conn) ~= nil then fail("eom") end
	local r = mt.getreply(conn)
	if r ~= SMFIR_CONTINUE and r ~= SMFIR_ACCEPT then fail("eom reply " .. tostring(r)) end
end

-- signed: the milter inserted a DKIM-Signature for domain d; returns its value
function signed(conn, d)
	if not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then fail("no DKIM-Signature inserted") end
	for n = 0, 7 do
		local v = mt.getheader(conn, "DKIM-Signature", n)
		if v == nil then break end
		if string.find(v, "d=" .. d .. ";", 1, true) then return v end
	end
	fail("no signature with d=" .. d)
end

-- standard headers of an outbound test message
function std_headers(conn, from)
	header(conn, "From", from or "Alice <alice@example.com>")
	header(conn, "To", "bob@remote.test")
	header(conn, "Subject", "test")
	header(conn, "Date", "Tue, 22 Dec 2009 13:04:12 -0800")
	header(conn, "Message-ID", "<m1@example.com>")
end
