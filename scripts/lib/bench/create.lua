-- POST /Users with a unique userName per request (thread number + counter).
-- `thread_tag` is a global set per thread by setup(); a local here would shadow it.
local counter = 0
-- Seeded, so a second run against the same database makes new names, not 409s.
math.randomseed(os.time())

function setup(thread)
  thread:set("thread_tag", "t" .. tostring(math.random(1, 1e9)))
end

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")
  wrk.headers["Content-Type"] = "application/scim+json"
end

function request()
  counter = counter + 1
  local name = string.format("new-%s-%d@bench.test", thread_tag, counter)
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
    '","name":{"givenName":"New","familyName":"User"},"emails":[{"value":"' .. name ..
    '","type":"work","primary":true}],"active":true}'
  return wrk.format("POST", os.getenv("SCIM_PATH") .. "/Users", nil, body)
end

function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
