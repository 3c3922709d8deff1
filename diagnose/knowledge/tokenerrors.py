"""What an OAuth 2.0 token endpoint's error means, in plain words (pure; no I/O).

RFC 6749 §5.2 and RFC 8628 §3.5 error codes, and the AADSTS codes of Microsoft Entra ID that users of
mail programs meet (the number is in ``error_description`` and in ``error_codes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# AADSTS number -> (what happened, what to do)
AADSTS = {
    "65001": ("the user or an administrator has not consented to the application's permissions (consent required)",
              "sign in once in a browser and accept the permissions, or ask a tenant administrator to grant admin "
              "consent for the application (Entra ID > Enterprise applications > Permissions)"),
    "50076": ("the tenant requires multi-factor authentication for this sign-in (MFA required)",
              "use the device-code or browser login (maildoctor login), which can complete MFA; a password-only "
              "login cannot"),
    "50079": ("the user must register for multi-factor authentication first (MFA registration required)",
              "sign in once at https://aka.ms/mfasetup and register a second factor, then run maildoctor login again"),
    "7000112": ("the application is disabled in this tenant",
                "ask a tenant administrator to enable the application (Entra ID > Enterprise applications > "
                "Properties > Enabled for users to sign in)"),
    "700016": ("the application (client id) was not found in this tenant",
               "check the client id and the tenant: the app must be registered in, or consented to by, the "
               "tenant of this mailbox (a single-tenant app cannot sign in users of other tenants)"),
    "7000215": ("the client secret is invalid (invalid client)",
                "check the application's secret in the app registration (Certificates & secrets): it may have "
                "expired; a desktop client should be a public client with no secret"),
    "700082": ("the refresh token has expired because it was not used for a long time",
               "run maildoctor login again to sign in afresh"),
    "50173": ("the refresh token is no longer valid: the password was changed or the sessions were revoked",
              "run maildoctor login again"),
    "70000": ("the grant is invalid or was issued for other scopes",
              "run maildoctor login again with the scopes the mail server needs"),
    "90014": ("a required field is missing from the request", "check the provider settings (client id, scopes)"),
}

# RFC 6749 §5.2, RFC 8628 §3.5
STANDARD = {
    "invalid_client": ("the authorization server does not know this client id, or its authentication failed",
                       "check --client-id (and that the application is registered with this provider)"),
    "unauthorized_client": ("this client may not use this kind of login",
                            "allow public client flows / the device code flow in the application's registration"),
    "invalid_grant": ("the grant (code, device code or refresh token) is invalid, expired or revoked",
                      "run maildoctor login again"),
    "invalid_scope": ("the requested scope is not valid for this application",
                      "check the scopes (--scope) and the API permissions of the application"),
    "access_denied": ("the sign-in was refused (the user declined, or a policy blocked it)",
                      "run maildoctor login again and approve the request"),
    "expired_token": ("the device code expired before the sign-in was approved",
                      "run maildoctor login again and approve within the time shown"),
    "unsupported_grant_type": ("the provider does not support this kind of login for this application",
                               "use the other flow (--flow device or --flow browser)"),
    "invalid_request": ("the provider could not read the request", "check the provider settings"),
}


@dataclass(frozen=True)
class TokenError:
    error: str  # RFC 6749 code, e.g. "invalid_grant"
    aadsts: str  # the Entra ID number, or ""
    meaning: str
    remedy: str

    def message(self) -> str:
        code = f"{self.error}" + (f", AADSTS{self.aadsts}" if self.aadsts else "")
        return f"{self.meaning} ({code}): {self.remedy}"


def explain_token_error(error: str, description: str = "", codes: list | tuple = ()) -> TokenError:
    """The plain meaning of a token endpoint's error answer (``error``, ``error_description``, Entra's
    ``error_codes``)."""
    found = re.search(r"AADSTS(\d{5,7})", description or "")
    number = found.group(1) if found else next((str(c) for c in codes if str(c) in AADSTS), "")
    if number in AADSTS:
        meaning, remedy = AADSTS[number]
    elif error in STANDARD:
        meaning, remedy = STANDARD[error]
    else:
        meaning, remedy = (f"the provider refused the request ({error or 'no error code'})",
                           "read the provider's message and check the provider settings")
    return TokenError(error or "error", number, meaning, remedy)
