# azd preprovision hook (Windows): see preprovision.sh. VNet mode needs the Microsoft.App resource provider.
$ErrorActionPreference = 'Stop'
if ($env:ENABLE_VNET -ne 'true') { exit 0 }
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  Write-Error 'VNet mode needs the Microsoft.App resource provider. Install the Azure CLI, or register it once in the portal (Subscription > Resource providers > Microsoft.App > Register), then run azd provision again.'
}
$subscription = @()
if ($env:AZURE_SUBSCRIPTION_ID) { $subscription = @('--subscription', $env:AZURE_SUBSCRIPTION_ID) }
$state = az provider show --namespace Microsoft.App @subscription --query registrationState -o tsv
if ($state -eq 'Registered') { exit 0 }
Write-Host 'Registering the Microsoft.App resource provider (VNet mode: the app subnet is delegated to Microsoft.App/environments)...'
az provider register --namespace Microsoft.App @subscription --wait
