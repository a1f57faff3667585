"""AuthService: accounts, password sign-in and signed access tokens."""
