-- GET /json with a browser-sized head: Host (added by wrk) and 15 fields a
-- browser sends for a same-origin fetch, 16 header lines in all (~1 KiB).
wrk.method = "GET"
wrk.path = "/json"
wrk.headers["Connection"] = "keep-alive"
wrk.headers["sec-ch-ua"] = '"Chromium";v="131", "Not_A Brand";v="24"'
wrk.headers["sec-ch-ua-mobile"] = "?0"
wrk.headers["sec-ch-ua-platform"] = '"Linux"'
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "application/json, text/plain, */*"
wrk.headers["Sec-Fetch-Site"] = "same-origin"
wrk.headers["Sec-Fetch-Mode"] = "cors"
wrk.headers["Sec-Fetch-Dest"] = "empty"
wrk.headers["Referer"] = "http://127.0.0.1/dashboard/overview?tab=activity"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br, zstd"
wrk.headers["Accept-Language"] = "en-GB,en-US;q=0.9,en;q=0.8,fr;q=0.7"
wrk.headers["Cookie"] = "sessionid=8f14e45fceea167a5a36dedd4bea2543; csrftoken=c9f0f895fb98ab9159f51fd0297e236d; theme=dark"
wrk.headers["Priority"] = "u=1, i"
wrk.headers["X-Requested-With"] = "XMLHttpRequest"
