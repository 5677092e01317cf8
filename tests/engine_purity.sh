#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when the engine library calls into I/O, the clock, the environment,
# threads, or any Kafka/GeoIP API (STYLE: the engine is pure).
set -eu
lib=$1
bad=$(nm -u "$lib" | awk '{print $2}' | grep -E \
  '^(f?open|fopen64|fclose|fread|fwrite|f?printf|vf?printf|puts|fputs|putchar|getline|read|write|time|clock|clock_gettime|gettimeofday|getenv|secure_getenv|pthread_.*|rd_kafka_.*|MMDB_.*|rand|srand|random|exit|abort|_exit|stdout|stderr|stdin)$' \
  | sort -u || true)
if [ -n "$bad" ]; then
  echo "engine library uses forbidden symbols:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "engine library is pure ($(nm -u "$lib" | wc -l) undefined symbols checked)"
