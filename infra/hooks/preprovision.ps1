# azd preprovision hook (Windows, or anywhere with PowerShell 7): see preprovision.sh. VNet mode needs the Microsoft.App
# resource provider. It uses the Azure CLI, which has its own sign-in: `azd auth login` does not sign in `az`.
# Every az call's exit code is checked: a native command's failure does not stop a script, and azd adds
# `exit $LASTEXITCODE` only to inline scripts, so a failed last command would otherwise end the hook with 0.
$ErrorActionPreference = 'Stop'

function Fail([string] $message) {
  [Console]::Error.WriteLine("preprovision: $message")
  exit 1
}

# The same reading of ENABLE_VNET as azd's for the enableVnet parameter (Go's strconv.ParseBool), case-sensitive like it.
$vnet = if ($env:ENABLE_VNET) { $env:ENABLE_VNET } else { 'false' }
if (@('0', 'f', 'F', 'false', 'FALSE', 'False') -ccontains $vnet) { exit 0 }
if (-not (@('1', 't', 'T', 'true', 'TRUE', 'True') -ccontains $vnet)) {
  Fail "ENABLE_VNET='$vnet' is not a boolean azd understands: use true or false (azd env set ENABLE_VNET true)."
}

$portal = 'or register it once in the portal (Subscription > Resource providers > Microsoft.App > Register), then run azd provision again.'
if (-not (Get-Command az -CommandType Application -ErrorAction SilentlyContinue)) {
  Fail "VNet mode needs the Microsoft.App resource provider, and registering it needs the Azure CLI (az), which is not installed: install it (https://aka.ms/installazurecli) and run 'az login', $portal"
}
# Signed in? (`az account show` fails without a sign-in; azd's own sign-in does not count.)
az account show --only-show-errors -o none *> $null
if ($LASTEXITCODE -ne 0) {
  Fail "the Azure CLI is not signed in (azd auth login does not sign in az): run 'az login' (a pipeline: az login --service-principal, or the azure/login action), $portal"
}

$subscription = @()
if ($env:AZURE_SUBSCRIPTION_ID) { $subscription = @('--subscription', $env:AZURE_SUBSCRIPTION_ID) }
$state = az provider show --namespace Microsoft.App @subscription --query registrationState -o tsv
if ($LASTEXITCODE -ne 0) {
  Fail "could not read the Microsoft.App provider's state (the Azure CLI's error is above)."
}
if ($state -eq 'Registered') { exit 0 }
Write-Host 'Registering the Microsoft.App resource provider (VNet mode: the app subnet is delegated to Microsoft.App/environments)...'
az provider register --namespace Microsoft.App @subscription --wait
if ($LASTEXITCODE -ne 0) {
  Fail "registering the Microsoft.App resource provider failed (the Azure CLI's error is above): it needs Contributor or Owner on the subscription; $portal"
}
exit 0
