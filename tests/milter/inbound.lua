-- inbound: an unauthenticated client outside the internal networks is
-- accepted at MAIL FROM and left untouched
dofile(dir .. "/common.lua")
local conn = open("<someone@remote.test>", "192.0.2.7")
expect(conn, SMFIR_ACCEPT, "mail from an outside client")
mt.disconnect(conn)
print("ok")
