"""Cl@ve mobile: enrolled devices approve logins shown as a QR code or pushed to them."""
