-- hundred_rcpts: 100 recipients; marketing gets List-Unsubscribe (mailto
-- only: the https URL carries one recipient) and no List-Unsubscribe-Post
dofile(dir .. "/common.lua")
local conn = open("<alice@example.com>")
for i = 1, 100 do rcpt(conn, "<r" .. i .. "@remote.test>") end
std_headers(conn)
header(conn, "X-Sluice-Category", "marketing")
eoh(conn)
body(conn, "hello\r\n")
eom(conn)
local sig = signed(conn, "news.example.com")
if not mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe") then fail("no List-Unsubscribe") end
local lu = mt.getheader(conn, "List-Unsubscribe", 0)
if string.find(lu, "https:", 1, true) then fail("https URL with 100 recipients: " .. lu) end
if mt.eom_check(conn, MT_HDRADD, "List-Unsubscribe-Post") then fail("List-Unsubscribe-Post without https URL") end
if not mt.eom_check(conn, MT_HDRDELETE, "X-Sluice-Category") then fail("X-Sluice-Category not removed") end
if not string.find(string.lower(sig), "list-unsubscribe", 1, true) then fail("h= lacks list-unsubscribe") end
mt.disconnect(conn)
print("ok")
