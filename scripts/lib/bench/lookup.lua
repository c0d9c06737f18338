-- GET /Users?filter=userName eq "user<n>@bench.test" for random n among the seeded users.
local users = tonumber(os.getenv("SEEDED_USERS") or "100000")

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")
  math.randomseed(os.time() + math.random(1, 1e6))
end

function request()
  local n = math.random(0, users - 1)
  local path = os.getenv("SCIM_PATH") .. "/Users?filter=userName%20eq%20%22user" .. n .. "%40bench.test%22"
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
