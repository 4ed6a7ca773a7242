-- POST /upload with a 64 KiB body (Content-Length framing, as a form or file
-- upload sends it); the app reads it all and answers its length.
wrk.method = "POST"
wrk.path = "/upload"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("0123456789abcdef", 4096)
