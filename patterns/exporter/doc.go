// Package exporter is the exporter sidecar pattern (SPEC §5.4, seed 2 demo
// 2): a Prometheus exporter container beside a stateful app (PostgreSQL,
// MySQL/MariaDB, Redis, MongoDB, nginx, or any exporter image), talking to
// the app over the pod's loopback, with credentials taken from a Secret by
// reference, and scraped like every sidecarize metrics endpoint (§5.1:
// ServiceMonitor, PodMonitor or prometheus.io annotations).
//
// Decisions where the SPEC is silent:
//
//   - type is required: enabling "exporter" without saying which would guess.
//   - There is no password option at all, so none can be given inline (the
//     config's strict decoding rejects `password:`); a preset takes the
//     Secret's name (secretRef) and keys (passwordKey, usernameKey) and
//     emits env with valueFrom.secretKeyRef in the variables the upstream
//     exporter reads: DATA_SOURCE_PASS (postgres), MYSQLD_EXPORTER_PASSWORD
//     (mysqld_exporter 0.15+ dropped DATA_SOURCE_NAME), REDIS_PASSWORD,
//     MONGODB_PASSWORD. A user from the Secret that an exporter only takes as
//     a flag (mysqld_exporter's --mysqld.username) goes through Kubernetes'
//     $(VAR) expansion of args. A custom exporter's env, and any extra args,
//     are rejected when they carry a credential inline (a credential-looking
//     variable name with a literal value, a URL with a password, a
//     --password=… flag).
//   - The container is "exporter" (as in seed 2); its port and the Service
//     port a ServiceMonitor scrapes are "exp-metrics", so the exporter
//     composes with the monitor pattern ("metrics") on one workload.
//   - The app is reached on localhost at the app's declared port (or the
//     preset's default port when the pod declares none); postgres uses
//     sslmode=disable since the connection never leaves the pod.
//   - Images are the upstream projects' own, pinned to their current release;
//     spec.images.<type>-exporter (mysql-exporter for mariadb too) or the
//     image option overrides them.
package exporter
