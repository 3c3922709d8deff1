"""Data for the lab's DNS-policy scenarios (SPF, DMARC, DKIM, MTA-STS...): keys and file templates.

Public keys only (DKIM keys are public by nature); the private halves were thrown away, the lab
never signs mail with them.
"""

from __future__ import annotations

DKIM_RSA_2048 = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA6XxFXpuS5zV1j8JepmGZlfVH56+EN5hevbKJG4byMFqtx//PSw5VHkMCoCE8zIsXm4eYV9H2MA5P5vHuE+a1yZc5cAwRBkXShV/YaZGh16BrbMY+BPWAgtQYEuGT2NC4EkxIuVW2H7864ffjQeWgRXZB0BLKcud+NULZwd8eVMf4sd0TXgzMiiXc6kfycsQvYF8hfixkeMChcPxFNdx9noa3dN0phm7lVKO7B6E7A9vJOpxOK7X8k6cmhA3IO32SORV36aPo6G1vHTeZmJYEacjv2ip6CpWMRmja92kMRNy+f1ENOt0EKvMfUKvXVhapG6wT5RI634wtMiHJo+Z12wIDAQAB"
DKIM_RSA_512 = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALvDdaQsWdcJzZT0z8QVauwPb15iI7c+4fA+kjbbRg+XJ/rX10iD7FVBveuCXF1Bpb7eW7Ki6Fcf6N/oTch1p7UCAwEAAQ=="


def txt(text: str) -> str:
    """A TXT rdata for a long text: quoted strings of at most 255 characters (RFC 1035 §3.3)."""
    return " ".join('"' + text[i:i + 255] + '"' for i in range(0, len(text), 255))


def dkim(key: str, flags: str = "") -> str:
    return txt(f"v=DKIM1; k=rsa; {flags}p={key}")


def sts_policy(*mx: str, mode: str = "enforce", max_age: int = 604800) -> str:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return "\r\n".join(lines) + "\r\n"


AUTOCONFIG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <incomingServer type="imap">
      <hostname>{imap.fqdn}</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>{smtp.fqdn}</hostname><port>465</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


# Microsoft's POX Autodiscover answer (outlook responseschema 2006a) as the lab's autodiscover.outlook.com
# gives it: the client servers of Microsoft 365 (impersonated by the lab's Dovecot and Postfix)
AUTODISCOVER_XML = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol><Type>IMAP</Type><Server>outlook.office365.com</Server><Port>993</Port><SSL>on</SSL>
        <LoginName>%EMAILADDRESS%</LoginName></Protocol>
      <Protocol><Type>SMTP</Type><Server>smtp.office365.com</Server><Port>587</Port>
        <Encryption>TLS</Encryption><LoginName>%EMAILADDRESS%</LoginName></Protocol>
    </Account>
  </Response>
</Autodiscover>
"""

# an Autodiscover answer that sends the client to another address of the same domain, again and again
AUTODISCOVER_LOOP_XML = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account><Action>redirectAddr</Action><RedirectAddr>again@%EMAILDOMAIN%</RedirectAddr></Account>
  </Response>
</Autodiscover>
"""
