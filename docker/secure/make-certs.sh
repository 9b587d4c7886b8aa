#!/bin/sh
# Certificates for the `secure` compose profile, made once into the secure-certs volume:
# a CA (ca.pem: what clients trust) and the broker's certificate for kafka-secure and
# localhost, with its key, as the PEM key store Kafka reads (broker.keystore.pem).
set -eu
cd /certs
if [ -f ca.pem ] && [ -f broker.keystore.pem ]; then
    exit 0
fi
apk add --no-cache openssl >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=claimstream compose CA" \
    -keyout ca-key.pem -out ca.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=kafka-secure" -keyout broker-key.pem -out broker.csr
printf 'subjectAltName=DNS:kafka-secure,DNS:localhost,IP:127.0.0.1\n' > broker.ext
openssl x509 -req -days 825 -in broker.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
    -extfile broker.ext -out broker.pem
cat broker-key.pem broker.pem > broker.keystore.pem
# The pipeline and the broker run as unprivileged users of their own images: both
# must read what they need. The volume is private to this compose project.
chmod 644 ca.pem broker.pem broker.keystore.pem
chmod 600 ca-key.pem broker-key.pem
