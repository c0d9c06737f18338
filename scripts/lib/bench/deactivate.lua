-- PATCH /Users/{id} with Okta's path-less {"active": false}, over the seeded ids.
local ids = {}
local next_index = 1

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")
  wrk.headers["Content-Type"] = "application/scim+json"
  for line in io.lines(os.getenv("IDS_FILE")) do
    ids[#ids + 1] = line
  end
  math.randomseed(os.time() + math.random(1, 1e6))
  next_index = math.random(1, #ids)
end

local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
  '"Operations":[{"op":"replace","value":{"active":false}}]}'

function request()
  next_index = next_index % #ids + 1
  return wrk.format("PATCH", os.getenv("SCIM_PATH") .. "/Users/" .. ids[next_index], nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
