-- wrk script: each request is `depth` pipelined GET /hello (default 16), as
-- TechEmpower's plaintext test sends them.  wrk counts every response.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, "/hello")
  end
  req = table.concat(r)
end

request = function()
  return req
end
