"""The registry from several Python threads: writers and readers at once.

Readers must only ever see a default or a registered path (never a torn or
foreign one), and the final state must be the last write of each member.
"""

from __future__ import annotations

import threading

from attnreg import _core

THREADS = 8
ROUNDS = 400


def test_concurrent_register_read_clear(reg):
    members = [reg.AttentionBackendEnum.FLASH_ATTN, reg.AttentionBackendEnum.CUSTOM, reg.AttentionBackendEnum.PALLAS]
    allowed = {m: {m.value} | {f"w{t}.mod.Backend{i}" for t in range(THREADS) for i in range(ROUNDS)}
               for m in members}
    errors: list[str] = []
    start = threading.Barrier(2 * THREADS)

    def writer(t: int) -> None:
        start.wait()
        for i in range(ROUNDS):
            member = members[(t + i) % len(members)]
            reg.register_backend(member, f"w{t}.mod.Backend{i}")
            if i % 7 == 0:
                member.clear_override()

    def reader() -> None:
        start.wait()
        for i in range(ROUNDS):
            member = members[i % len(members)]
            try:
                path = member.get_path()
            except ValueError:  # CUSTOM between a clear and a register
                if member is not reg.AttentionBackendEnum.CUSTOM:
                    errors.append(f"{member.name}: unexpected ValueError")
                continue
            if path not in allowed[member]:
                errors.append(f"{member.name}: saw {path!r}")

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    threads += [threading.Thread(target=reader) for _ in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []

    # One writer, a known last write: the core holds exactly it.
    for member in members:
        reg.register_backend(member, "final.mod.Backend")
        assert _core.attention_get_path(member.name) == "final.mod.Backend"


def test_concurrent_decorator_registrations_resolve_their_own_class(reg):
    results: dict[int, bool] = {}

    def register_and_resolve(t: int) -> None:
        cls = type(f"Local{t}", (), {"__module__": __name__})
        cls.__qualname__ = f"factory.<locals>.Local{t}"
        member = reg.MambaAttentionBackendEnum.CUSTOM
        reg.register_backend(member, is_mamba=True)(cls)
        # Another thread may have overridden CUSTOM since; its class must
        # still be one of the registered ones, resolved by the escaped path.
        results[t] = member.get_class().__name__.startswith("Local")

    threads = [threading.Thread(target=register_and_resolve, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == {t: True for t in range(THREADS)}
