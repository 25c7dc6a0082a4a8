"""The dispatcher's console: a page and plain ES modules shipped as package data (static/),
served by functions/console.py. The page reads and writes only through the other functions'
JSON, so what it shows is what the API says."""
