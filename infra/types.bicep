// Types shared by main.bicep and its modules.

@export()
@description('A certificate (or a PEM secret of CA certificates) in Key Vault.')
type keyVaultReference = {
  @description('Name of the certificate or secret.')
  name: string
  @description('A version to pin; omit to follow rotation (the app re-reads the current version).')
  version: string?
  @description('Another vault\'s https URI; omit for this deployment\'s vault. The app\'s identity needs Key Vault Certificate User and Key Vault Secrets User there.')
  vaultUri: string?
}

@export()
@description('An OAuth 2.0 token the backend wants as well as the certificate (client credentials over mutual TLS, RFC 8705): docs/oauth-mtls.md.')
type tokenSource = {
  @description('The token endpoint: an https URL on a host:port of its own, in no profile\'s hosts (callers can never reach it; profiles may share one).')
  endpoint: string
  @description('The client id registered with the authorization server.')
  clientId: string
  @description('Scopes to ask for; omit for the server\'s default.')
  scopes: string[]?
  @description('Sent as the audience parameter.')
  audience: string?
  @description('Sent as the RFC 8707 resource parameter (an absolute URI).')
  resource: string?
  @description('How the app authenticates to the token endpoint: with the profile\'s certificate (the first three) or a client secret.')
  clientAuthentication: 'TlsClientAuth' | 'SelfSignedTlsClientAuth' | 'PrivateKeyJwt' | 'ClientSecretBasic'
  @description('ClientSecretBasic only: the client secret, a secret in Key Vault (never a value in the template).')
  clientSecret: keyVaultReference?
}

@export()
@description('A TLS profile: every Invoker:Profiles:<name> setting the app reads (README lists their meaning). Certificates live in Key Vault.')
type tlsProfile = {
  @description('Profile name: letters, digits, - and _.')
  name: string
  @description('host or host:port entries the profile owns.')
  hosts: string[]
  @description('Shorthand for clientCertificate: the name of the client certificate in this deployment\'s Key Vault.')
  certificateName: string?
  @description('The client certificate; omit both this and certificateName for plain server-verified TLS.')
  clientCertificate: keyVaultReference?
  @description('Shorthand for trustedCa: a certificate or PEM secret in this deployment\'s Key Vault holding the backend\'s CA (root or issuing intermediate).')
  trustedCaName: string?
  @description('The backend\'s CA; omit both this and trustedCaName for system trust.')
  trustedCa: keyVaultReference?
  @description('SHA-256 pins (sha256/BASE64 or hex) of a public key or certificate in the backend\'s chain; the probe prints them.')
  serverCertificatePins: string[]?
  @minValue(1)
  @maxValue(230)
  timeoutSeconds: int?
  @minValue(1)
  @description('Largest backend response body, in bytes (default 10 MiB).')
  maxResponseBytes: int?
  @description('Caller names that may use the profile (default: any authenticated caller).')
  allowedCallers: string[]?
  @description('Forward mode\'s base URL (https, no query) on one of the hosts; omit to leave forward mode off.')
  baseUrl: string?
  @description('Front-end headers about the caller (X-Forwarded-For, …) that forward mode passes on.')
  forwardCallerHeaders: string[]?
  @description('Allow targets that resolve to private (RFC 1918 / ULA) addresses: backends inside the VNet.')
  allowPrivateNetwork: bool?
  @description('Accept legacy crypto (RSA keys under 2048 bits, SHA-1) in the backend\'s chain. A stopgap: health and the probe warn about it.')
  allowLegacyServerCrypto: bool?
  @description('An OAuth 2.0 token source: the app gets a certificate-bound token and sends it as Authorization: Bearer.')
  token: tokenSource?
}

@export()
@description('A caller identified by its client certificate.')
type callerCertificate = {
  @description('Caller name, as used in AllowedCallers and grants.')
  name: string
  @description('SHA-256 thumbprint of the certificate (hex).')
  thumbprint: string?
  @description('Exact subject, e.g. CN=partner-bot.')
  subject: string?
}

@export()
@description('A caller\'s own grant: the profiles it may use (Invoker:Callers:Grants), replacing the profiles\' AllowedCallers for it.')
type callerGrant = {
  @description('Caller name (a caller certificate\'s name).')
  caller: string
  @description('Profile names.')
  profiles: string[]
}
