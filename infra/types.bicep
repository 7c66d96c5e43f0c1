// Types shared by main.bicep and its modules.

@export()
@description('A TLS profile whose client certificate lives in the deployment\'s Key Vault.')
type tlsProfile = {
  @description('Profile name: letters, digits, - and _.')
  name: string
  @description('host or host:port entries the profile owns.')
  hosts: string[]
  @description('Name of the client certificate in the Key Vault.')
  certificateName: string
  @description('Name of a Key Vault certificate or PEM secret holding the backend\'s CA roots; omit for system trust.')
  trustedCaName: string?
  @minValue(1)
  @maxValue(230)
  timeoutSeconds: int?
  allowPrivateNetwork: bool?
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
