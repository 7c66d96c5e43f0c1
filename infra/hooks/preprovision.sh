#!/bin/sh
# azd preprovision hook: VNet mode needs the Microsoft.App resource provider (Flex delegates its subnet to
# Microsoft.App/environments), which a fresh subscription has not registered. Registering needs the
# subscription-level permission Microsoft.App/register/action (Contributor or Owner on the subscription).
set -eu
if [ "${ENABLE_VNET:-false}" != "true" ]; then
  exit 0
fi
if ! command -v az >/dev/null 2>&1; then
  echo "VNet mode needs the Microsoft.App resource provider. Install the Azure CLI, or register it once in the portal" >&2
  echo "(Subscription > Resource providers > Microsoft.App > Register), then run azd provision again." >&2
  exit 1
fi
subscription=${AZURE_SUBSCRIPTION_ID:-}
state=$(az provider show --namespace Microsoft.App ${subscription:+--subscription "$subscription"} --query registrationState -o tsv 2>/dev/null || echo Unknown)
if [ "$state" = "Registered" ]; then
  exit 0
fi
echo "Registering the Microsoft.App resource provider (VNet mode: the app subnet is delegated to Microsoft.App/environments)..."
az provider register --namespace Microsoft.App ${subscription:+--subscription "$subscription"} --wait
