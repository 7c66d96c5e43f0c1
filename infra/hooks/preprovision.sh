#!/bin/sh
# azd preprovision hook: VNet mode needs the Microsoft.App resource provider (Flex delegates its subnet to
# Microsoft.App/environments), which a fresh subscription has not registered. Registering needs the
# subscription-level permission Microsoft.App/register/action (Contributor or Owner on the subscription).
# It uses the Azure CLI, which has its own sign-in: `azd auth login` does not sign in `az`.
set -u

fail() {
  echo "preprovision: $*" >&2
  exit 1
}

# The same reading of ENABLE_VNET as azd's for the enableVnet parameter (Go's strconv.ParseBool), so the hook runs
# exactly when the template gets VNet mode; a value azd cannot read as a boolean stops here instead of guessing.
vnet=${ENABLE_VNET:-false}
case "$vnet" in
  1|t|T|true|TRUE|True) ;;
  0|f|F|false|FALSE|False) exit 0 ;;
  *) fail "ENABLE_VNET='$vnet' is not a boolean azd understands: use true or false (azd env set ENABLE_VNET true)." ;;
esac

portal="or register it once in the portal (Subscription > Resource providers > Microsoft.App > Register), then run azd provision again."
if ! command -v az >/dev/null 2>&1; then
  fail "VNet mode needs the Microsoft.App resource provider, and registering it needs the Azure CLI (az), which is not installed: install it (https://aka.ms/installazurecli) and run 'az login', $portal"
fi
# Signed in? (`az account show` fails without a sign-in; azd's own sign-in does not count.)
if ! az account show --only-show-errors -o none >/dev/null 2>&1; then
  fail "the Azure CLI is not signed in (azd auth login does not sign in az): run 'az login' (a pipeline: az login --service-principal, or the azure/login action), $portal"
fi

subscription=${AZURE_SUBSCRIPTION_ID:-}
if ! state=$(az provider show --namespace Microsoft.App ${subscription:+--subscription "$subscription"} --query registrationState -o tsv); then
  fail "could not read the Microsoft.App provider's state${subscription:+ in subscription $subscription} (the Azure CLI's error is above)."
fi
if [ "$state" = "Registered" ]; then
  exit 0
fi
echo "Registering the Microsoft.App resource provider (VNet mode: the app subnet is delegated to Microsoft.App/environments)..."
if ! az provider register --namespace Microsoft.App ${subscription:+--subscription "$subscription"} --wait; then
  fail "registering the Microsoft.App resource provider failed (the Azure CLI's error is above): it needs Contributor or Owner on the subscription; $portal"
fi
