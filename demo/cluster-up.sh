#!/usr/bin/env bash
# Seed 1 on a real cluster: a kind cluster with kube-prometheus-stack (the
# Prometheus Operator picks up the ServiceMonitors and PrometheusRules
# sidecarize generates), the demo frontend image built and loaded, and one
# version of the demo applied.
#
#   ./cluster-up.sh            # VERSION=v3
#   VERSION=initial ./cluster-up.sh; VERSION=v1 ./cluster-up.sh ...
#   CLUSTER=existing ./cluster-up.sh   # reuses a kind cluster of that name
#
# Needs docker, kind, kubectl and helm. Kubernetes >= 1.29 for native
# sidecars (kind's default node image is newer). Not run by the test suite.
set -euo pipefail
cd "$(dirname "$0")"
CLUSTER=${CLUSTER:-sidecarize-demo}
VERSION=${VERSION:-v3}
# Optional: pin the chart, e.g. KPS_VERSION=77.0.0 (default: the latest).
KPS_VERSION=${KPS_VERSION:-}
IMAGE=sidecarize-demo-frontend:0.1.0

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "cluster-up: $tool is required" >&2; exit 1; }
done
[ -d "productionise/$VERSION" ] || { echo "cluster-up: no productionise/$VERSION (initial, v1, v2, v3)" >&2; exit 2; }

echo "==> kind cluster $CLUSTER"
kind get clusters 2>/dev/null | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
kubectl config use-context "kind-$CLUSTER" >/dev/null

echo "==> kube-prometheus-stack in namespace monitoring"
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
helm repo update prometheus-community >/dev/null
# *SelectorNilUsesHelmValues=false: select every ServiceMonitor, PodMonitor
# and PrometheusRule, not only those labelled with the Helm release. The
# Grafana sidecar imports the generated dashboards (ConfigMaps labelled
# grafana_dashboard: "1") from every namespace, into their grafana_folder.
helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
  ${KPS_VERSION:+--version "$KPS_VERSION"} \
  --namespace monitoring --create-namespace --wait --timeout 10m \
  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
  --set grafana.sidecar.dashboards.searchNamespace=ALL \
  --set grafana.sidecar.dashboards.folderAnnotation=grafana_folder \
  --set grafana.sidecar.dashboards.provider.foldersFromFilesStructure=true

echo "==> frontend image $IMAGE"
docker build -q -f app/Dockerfile -t "$IMAGE" ..
kind load docker-image "$IMAGE" --name "$CLUSTER"

echo "==> kubectl apply -f productionise/$VERSION"
kubectl apply -f "productionise/$VERSION"
kubectl rollout status deployment/api deployment/frontend --timeout 180s

cat <<MSG

The demo ($VERSION) is running. In three terminals:
  kubectl port-forward svc/frontend 8080:80        # the app: http://localhost:8080
  kubectl -n monitoring port-forward svc/kube-prometheus-stack-prometheus 9090
  while true; do curl -s -o /dev/null -w '%{http_code} ' localhost:8080; sleep 0.2; done
Prometheus (v1+): sidecarize:http_errors:ratio_rate5m, alert SidecarizeHighErrorRate.
Grafana (v1+): kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80,
  folder sidecarize (user admin, password: the admin-password of Secret kube-prometheus-stack-grafana).
Logs (v2+): kubectl logs deploy/api -c logs-adapter -f
Breaker (v3): kubectl port-forward deploy/frontend 9102, then
  curl -s localhost:9102/metrics | grep -E 'intercepted|check_up_down'
Next version: VERSION=v1 ./cluster-up.sh (or kubectl apply -f productionise/v1).
Tear down: make -C demo cluster-down
MSG
