"""HTTP-level tests of `maildoctor serve` (a real uvicorn on a loopback port)."""
