-- PATCH /Users/{id} with Okta's path-less {"active": false}, over the seeded ids.
--
-- Every request changes its user: a PATCH that says what is already stored
-- writes nothing, so it would be measured as far cheaper than a change. Each
-- wrk thread takes its own share of the ids (every second one: scripts/bench-scim
-- runs two threads), deactivates them in turn, and on its next pass over them
-- reactivates them, and so on. `thread_number` is a global set per thread by
-- setup(); a local here would shadow it.
--
-- With BENCH_WARMUP=1 (the unmeasured seconds before a run) every request
-- reactivates a user still active: the same requests and reads, no change,
-- so the measured run that follows starts on users it has not touched.
local STRIDE = 2
local ids = {}
local position = nil
local pass = 0
local threads_set_up = 0
local warming_up = os.getenv("BENCH_WARMUP") == "1"

function setup(thread)
  thread:set("thread_number", threads_set_up % STRIDE)
  threads_set_up = threads_set_up + 1
end

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")
  wrk.headers["Content-Type"] = "application/scim+json"
  for line in io.lines(os.getenv("IDS_FILE")) do
    ids[#ids + 1] = line
  end
end

local function body(active)
  return '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
    '"Operations":[{"op":"replace","value":{"active":' .. active .. '}}]}'
end
local deactivate, reactivate = body("false"), body("true")

function request()
  position = (position or thread_number + 1 - STRIDE) + STRIDE
  if position > #ids then
    position = thread_number + 1
    pass = pass + 1
  end
  local patch = (pass % 2 == 0 and not warming_up) and deactivate or reactivate
  return wrk.format("PATCH", os.getenv("SCIM_PATH") .. "/Users/" .. ids[position], nil, patch)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
