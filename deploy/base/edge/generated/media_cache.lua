-- Cache headers for GET /media/<bucket>/<key> (objects are content-addressed, so a URL
-- never changes meaning): immutable for a year when the object was served (200, 206 for
-- a range, 304), never cached otherwise (404/403 must not stick in a browser for a year).
function envoy_on_response(handle)
  local status = handle:headers():get(":status")
  if status == "200" or status == "206" or status == "304" then
    handle:headers():replace("cache-control", "public, max-age=31536000, immutable")
  else
    handle:headers():replace("cache-control", "no-store")
  end
end
