-- several_from: two From header fields, none, or one with two addresses are
-- refused with 5.6.0 (signing them would let a second author ride on our
-- signature)
dofile(dir .. "/common.lua")
local conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
header(conn, "From", "alice@example.com")
header(conn, "From", "mallory@evil.test")
header(conn, "Subject", "two authors")
eoh(conn, SMFIR_REPLYCODE)
mt.disconnect(conn)
-- and none at all
conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
header(conn, "Subject", "no author")
eoh(conn, SMFIR_REPLYCODE)
mt.disconnect(conn)
-- one From field naming two authors
conn = open("<alice@example.com>")
rcpt(conn, "<bob@remote.test>")
header(conn, "From", "alice@example.com, mallory@evil.test")
eoh(conn, SMFIR_REPLYCODE)
mt.disconnect(conn)
print("ok")
