#!/usr/bin/python3
"""Reference decoder for 档案检索一体机 backups (format version 2, docs/FORMATS.md, Backups).

Independent of the appliance's code: Python 3 and the `cryptography` package only (Debian:
python3-cryptography), so a backup can be opened decades from now without the program that made it.

    backup-decode.py --identity secadmin.key --passphrase-file pass.txt [--signer ARCHBK1-ED25519-…]
                     BACKUP [--tar OUT.tar] [--extract DIR]

Checks, in order: magic and version, header digest, the signature over every byte (and that its
signer is the one given with --signer), the identity's passphrase, the wrapped file key, every
chunk's AES-GCM tag in order with the final flag on the last one only, then the tar inside against
its manifest.jsonl (SHA-256 and size of every entry). Exit 0 only if all of it holds; prints one
JSON line describing the backup.
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import struct
import sys
import tarfile
import tempfile
import unicodedata

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"ARCHBKUP"
VERSION = 2
TAG = 16
SIG_LEN = 64
SIG_DOMAIN = b"archive-backup v2 signature\n"
WRAP_INFO = b"archive-backup v2 X25519 wrap"
PAYLOAD_INFO = b"archive-backup v2 payload"
RECIPIENT_PREFIX = "ARCHBK1-X25519-"
SIGNER_PREFIX = "ARCHBK1-ED25519-"


class Refused(Exception):
    pass


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_raw(text, prefix):
    text = text.strip()
    if not text.startswith(prefix):
        raise Refused("not a key starting with " + prefix)
    raw = b64u_decode(text[len(prefix):])
    if len(raw) != 32:
        raise Refused("key is not 32 bytes")
    return raw


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def open_identity(path, passphrase):
    f = json.load(open(path, encoding="utf-8"))
    if f.get("format") != "archive-backup-identity" or f.get("v") != 1 or f.get("type") != "X25519":
        raise Refused("not an identity file (v1, X25519)")
    k = f["kdf"]
    if k.get("alg") != "scrypt":
        raise Refused("identity KDF is not scrypt")
    kek = Scrypt(salt=base64.b64decode(k["salt"]), length=32, n=k["N"], r=k["r"], p=k["p"]).derive(unicodedata.normalize("NFC", passphrase).encode("utf-8"))
    try:
        d = AESGCM(kek).decrypt(base64.b64decode(f["nonce"]), base64.b64decode(f["sealedKey"]), f["publicKey"].encode("utf-8"))
    except InvalidTag:
        raise Refused("wrong passphrase for the identity file")
    priv = X25519PrivateKey.from_private_bytes(d)
    pub = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if pub != key_raw(f["publicKey"], RECIPIENT_PREFIX):
        raise Refused("identity's private key does not match its public key")
    return priv, pub


def unwrap(stanzas, priv, pub):
    for s in stanzas:
        if s.get("type") != "X25519":
            continue
        eph = base64.b64decode(s["ephemeral"])
        wrapped = base64.b64decode(s["wrappedKey"])
        if len(eph) != 32 or len(wrapped) != 48:
            continue
        shared = priv.exchange(X25519PublicKey.from_public_bytes(eph))
        if shared == bytes(32):
            continue
        try:
            return AESGCM(hkdf(shared, eph + pub, WRAP_INFO)).decrypt(bytes(12), wrapped, None)
        except InvalidTag:
            continue
    raise Refused("this identity is not a recipient of the backup")


def decode(path, priv, pub, signer, sink):
    """Check header and signature, then decrypt every chunk into `sink` (a binary file). Streams:
    memory stays at one chunk whatever the backup's size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(13)
        if len(head) < 13 or head[:8] != MAGIC:
            raise Refused("not an ARCHBKUP file")
        if head[8] != VERSION:
            raise Refused("format version %d (this decoder reads %d)" % (head[8], VERSION))
        (hlen,) = struct.unpack(">I", head[9:13])
        if hlen > 65536 or size < 13 + hlen + 32 + TAG + SIG_LEN:
            raise Refused("header length or file size impossible")
        signed = head + f.read(hlen)
        digest = f.read(32)
        if hashlib.sha256(signed).digest() != digest:
            raise Refused("header digest mismatch (chunk 0)")
        header = json.loads(signed[13:].decode("utf-8"))
        if header.get("v") != VERSION or header.get("signer", {}).get("type") != "Ed25519" or header.get("chunkSize") != 65536:
            raise Refused("header fields")
        # The signature first: nothing is decrypted from a file the appliance did not sign.
        signer_raw = key_raw(header["signer"]["publicKey"], SIGNER_PREFIX)
        if signer is not None and key_raw(signer, SIGNER_PREFIX) != signer_raw:
            raise Refused("signed by another key than --signer")
        body_end = size - SIG_LEN
        h = hashlib.sha256(signed + digest)
        left = body_end - f.tell()
        while left > 0:
            b = f.read(min(left, 1 << 20))
            if not b:
                raise Refused("file shrank while read")
            h.update(b)
            left -= len(b)
        sig = f.read(SIG_LEN)
        try:
            Ed25519PublicKey.from_public_bytes(signer_raw).verify(sig, SIG_DOMAIN + h.digest())
        except InvalidSignature:
            raise Refused("signature does not verify")
        file_key = unwrap(header["recipients"], priv, pub)
        aead = AESGCM(hkdf(file_key, None, PAYLOAD_INFO))
        prefix = bytes.fromhex(header["noncePrefix"])
        whole = header["chunkSize"] + TAG
        at = 13 + hlen + 32
        f.seek(at)
        counter = 0
        while at < body_end:
            end = min(at + whole, body_end)
            final = end == body_end
            nonce = prefix + struct.pack(">I", counter) + (b"\x01" if final else b"\x00")
            try:
                sink.write(aead.decrypt(nonce, f.read(end - at), digest))
            except InvalidTag:
                raise Refused("chunk %d failed authentication" % (counter + 1))
            counter += 1
            at = end
    return header, counter


def check_tar(tar_path, extract):
    """Hash every entry against manifest.jsonl; with `extract`, write the files there as they pass."""
    seen = {}
    order = []
    small = {}
    with tarfile.open(tar_path, mode="r:") as t:
        for m in t:
            if m.isdir():
                continue
            if not m.isfile():
                raise Refused("entry %s is not a regular file" % m.name)
            name = m.name
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                raise Refused("unsafe path %s" % name)
            h = hashlib.sha256()
            src = t.extractfile(m)
            dest = None
            if extract and name not in ("backup.json", "manifest.jsonl"):
                path = os.path.join(extract, name)
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                dest = open(path, "xb")
            keep = name in ("backup.json", "manifest.jsonl")
            parts = []
            n = 0
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
                if dest:
                    dest.write(b)
                if keep:
                    parts.append(b)
            if dest:
                dest.close()
            if keep:
                small[name] = b"".join(parts)
            order.append(name)
            seen[name] = (n, h.hexdigest())
    if not order or order[0] != "backup.json" or order[-1] != "manifest.jsonl":
        raise Refused("backup.json not first or manifest.jsonl not last")
    lines = [json.loads(l) for l in small["manifest.jsonl"].decode("utf-8").splitlines() if l]
    end = lines.pop()
    info = json.loads(small["backup.json"])
    if not end.get("end") or end.get("backupId") != info["backupId"] or end.get("files") != len(lines):
        raise Refused("manifest end line")
    listed = set()
    for l in lines:
        if seen.get(l["path"]) != (l["size"], l["sha256"]):
            raise Refused("manifest mismatch: %s" % l["path"])
        listed.add(l["path"])
    if set(seen) - {"manifest.jsonl"} != listed or len(order) != len(seen):
        raise Refused("entries not in the manifest, or duplicates")
    return info, len(order)


def main():
    ap = argparse.ArgumentParser(description="Decode and check an archive appliance backup (format v2).")
    ap.add_argument("backup")
    ap.add_argument("--identity", required=True)
    ap.add_argument("--passphrase-file", required=True)
    ap.add_argument("--signer", help="the signer public key (text or file) the backup must be signed with")
    ap.add_argument("--tar", help="write the decrypted tar here")
    ap.add_argument("--extract", help="write the files into this (new or empty) directory")
    a = ap.parse_args()
    passphrase = open(a.passphrase_file, encoding="utf-8").read()
    passphrase = passphrase[:-1] if passphrase.endswith("\n") else passphrase
    passphrase = passphrase[:-1] if passphrase.endswith("\r") else passphrase
    signer = a.signer
    if signer is not None and not signer.startswith(SIGNER_PREFIX):
        signer = open(signer, encoding="utf-8").read().strip()
    if a.extract:
        os.makedirs(a.extract, mode=0o700, exist_ok=True)
        if os.listdir(a.extract):
            print(json.dumps({"ok": False, "error": "extract directory is not empty"}))
            return 1
    # The decrypted tar goes to --tar, or to a private temporary file removed at the end.
    tar_path = a.tar or os.path.join(tempfile.mkdtemp(prefix="backup-decode-"), "plain.tar")
    try:
        priv, pub = open_identity(a.identity, passphrase)
        with open(tar_path, "xb") as sink:
            header, chunks = decode(a.backup, priv, pub, signer, sink)
        info, files = check_tar(tar_path, a.extract)
        if info["backupId"] != header["backupId"] or info.get("parentId") != header.get("parentId"):
            raise Refused("header and backup.json disagree")
    except Refused as e:
        # Nothing of a refused backup is left behind: no plaintext tar, no extracted files.
        if os.path.exists(tar_path):
            os.remove(tar_path)
        if a.extract:
            for entry in os.listdir(a.extract):
                p = os.path.join(a.extract, entry)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
        print(json.dumps({"ok": False, "error": str(e)}))
        return 1
    finally:
        if not a.tar and os.path.exists(tar_path):
            os.remove(tar_path)
        if not a.tar:
            os.rmdir(os.path.dirname(tar_path))
    print(json.dumps({"ok": True, "backupId": header["backupId"], "kind": header["kind"], "parentId": header.get("parentId"),
                      "chunks": chunks, "files": files, "signer": header["signer"]["publicKey"], "items": len(info["items"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
