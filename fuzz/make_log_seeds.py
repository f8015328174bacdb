#!/usr/bin/env python3
"""Seeds for the `log_verify` fuzz target, written from docs/log.md alone ("The chain and the
seal"), so they double as a second implementation of the format: `tests/log_chain.rs` checks that
jwtctl finds the sealed seed intact with the key below (`fuzz/entry.rs` LOG_SEAL_KEY).

Usage: python3 fuzz/make_log_seeds.py  (writes fuzz/corpus/log_verify/*)"""
import hashlib, hmac, json, os

ID = "00112233445566778899aabbccddeeff"
START = 1800000000
INTERVAL = 10
K0 = bytes(range(32))
KEY = f"jwtctl-seal-v1:{ID}:{START}:{INTERVAL}:{K0.hex()}"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class Log:
    def __init__(self, key=None):
        self.lines, self.seq, self.prev = [], 0, sha(b"jwtctl security log v1")
        self.key, self.epoch = key, 0

    def add(self, fields):
        body = json.dumps(fields, separators=(",", ":"))
        line = '{"seq":%d,"prev":"%s",%s' % (self.seq + 1, self.prev, body[1:])
        self.lines.append(line)
        self.seq += 1
        self.prev = sha(line.encode())

    def at(self, t, fields):
        if self.key is not None:
            due = (t - START) // INTERVAL
            if due > self.epoch:
                n = due - self.epoch
                msg = f"jwtctl-seal-v1|{ID}|{self.epoch}|{n}|{self.seq}|{self.prev}".encode()
                mac = hmac.new(self.key, msg, hashlib.sha256).hexdigest()
                self.add({"timestamp": iso(t), "level": "INFO", "op": "log_seal", "outcome": "success",
                          "seal_id": ID, "epoch": self.epoch, "epochs": n, "sealed_seq": self.seq,
                          "sealed_hash": self.prev, "mac": mac})
                for _ in range(n):
                    self.key = hmac.new(self.key, b"jwtctl-seal-evolve", hashlib.sha256).digest()
                self.epoch = due
        self.add(dict({"timestamp": iso(t)}, **fields))

    def text(self):
        return "\n".join(self.lines) + "\n"


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "log_verify")
    os.makedirs(out, exist_ok=True)
    plain = Log()
    for i in range(5):
        plain.at(START + i, {"level": "INFO", "op": "verify", "outcome": "success", "sub": f"u{i}"})
    sealed = Log(K0)
    sealed.at(START, {"level": "ERROR", "op": "log_seal_init", "outcome": "success", "seal_id": ID,
                      "seal_start": START, "seal_interval": INTERVAL})
    for i, t in enumerate([3, 8, 14, 15, 31, 62, 64]):
        sealed.at(START + t, {"level": "INFO", "op": "issue", "outcome": "success", "sub": f"s{i}"})
    seeds = {
        "chained.log": plain.text(),
        "sealed.log": sealed.text(),
        "swapped.log": "\n".join(sealed.lines[:3] + [sealed.lines[4], sealed.lines[3]] + sealed.lines[5:]) + "\n",
        "cut.log": sealed.text()[: len(sealed.text()) // 2],
        "legacy.log": '{"timestamp":"2026-01-01T00:00:00Z","op":"issue"}\n' + plain.text(),
    }
    for name, text in seeds.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    print(KEY)


if __name__ == "__main__":
    main()
