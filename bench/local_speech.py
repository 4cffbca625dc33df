"""Local speech (issue 8): what eSpeak NG costs per second of speech, and the memory it adds.

No bot, no fake Telegram: the script drives ``bot.speech.LocalSpeech`` (what the VOICE step
calls for typed text) in this process, so /proc/self/status shows exactly what the engine
adds. Per language (en, pt_BR), 20 texts of 100 to 1,500 characters (MAX_TEXT_CHARS), made
of ordinary sentences, are spoken one after another into WAV files in a temp folder; each
call is timed in wall time and in process CPU time (the worker thread's work is counted too).

Reported:

* per language: seconds of speech made, and wall and CPU milliseconds per second of speech
  (p50 / max over the 20 texts), plus the 1,500-character text on its own;
* the event loop's longest stall while the batch ran (a ticker coroutine measures it): the
  engine runs on its own thread, so this should stay near the scheduler's noise;
* memory: VmRSS and VmHWM (peak RSS) before the library is loaded, after loading it, after
  both batches, then after a 10,000-character text (about 11 minutes of speech) spoken with
  ``max_seconds=60`` (as the bot asks: 60 s kept, the rest only measured) and with none (the
  engine's 600 s hard limit is then all that bounds one request).

Run: ``.venv/bin/python bench/local_speech.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from _common import machine, percentile, workdir

from bot.errors import SpeechTooLong
from bot.speech import LocalSpeech

SENTENCES = {
    "en": (
        "Hello, this is the robot voice of the bot. ",
        "Type any text and it will be spoken before the video is made. ",
        "The price and the quota are known before you confirm, in seconds of speech. ",
        "Numbers such as 1,250 or 42 are read as words, and so are dates like 12 May. ",
    ),
    "pt_BR": (
        "Olá, esta é a voz robótica do bot. ",
        "Digite qualquer texto e ele será falado antes de o vídeo ser feito. ",
        "O preço e a cota ficam conhecidos antes de você confirmar, em segundos de fala. ",
        "Números como 1.250 ou 42 são lidos por extenso, e datas como 12 de maio também. ",
    ),
}
SIZES = [round(100 + n * (1500 - 100) / 19) for n in range(20)]


def text_of(language: str, size: int) -> str:
    sentences = SENTENCES[language]
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        parts.append(sentences[len(parts) % len(sentences)])
    return "".join(parts)[:size]


def memory() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in kB."""
    found: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def mem_line(label: str, now: dict[str, int], base: dict[str, int]) -> str:
    rss, peak = now["VmRSS"] / 1024, now["VmHWM"] / 1024
    added_rss = (now["VmRSS"] - base["VmRSS"]) / 1024
    added_peak = (now["VmHWM"] - base["VmHWM"]) / 1024
    return (
        f"  {label:36} RSS {rss:6.1f} MB (+{added_rss:5.1f})"
        f"   peak {peak:6.1f} MB (+{added_peak:5.1f})"
    )


async def ticker(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.monotonic()
        gaps.append(now - last)
        last = now


async def batch(
    speech: LocalSpeech, language: str, folder: Path
) -> tuple[list[float], list[float], list[float]]:
    """Speak the 20 texts; per text: seconds of speech, wall s, CPU s."""
    spoken, walls, cpus = [], [], []
    for n, size in enumerate(SIZES):
        text = text_of(language, size)
        wall, cpu = time.perf_counter(), time.process_time()
        seconds = await speech.speak(text, language, folder / f"{language}-{n}.wav")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        spoken.append(seconds)
    return spoken, walls, cpus


async def main(repeat: int) -> int:
    print(f"machine: {machine()}")
    print(f"texts: {len(SIZES)} per language, {SIZES[0]}-{SIZES[-1]} characters; x{repeat}")
    base = memory()
    speech = LocalSpeech()
    started = time.perf_counter()
    voices = await speech.voices()
    load_ms = (time.perf_counter() - started) * 1000
    loaded = memory()
    print(f"library loaded and {len(voices)} voices listed in {load_ms:.1f} ms")

    gaps: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(gaps, stop))
    rows = []
    with workdir("speech") as folder:
        for language in SENTENCES:
            spoken: list[float] = []
            wall_per: list[float] = []
            cpu_per: list[float] = []
            longest: list[tuple[float, float, float]] = []
            for _ in range(repeat):
                seconds, walls, cpus = await batch(speech, language, folder)
                spoken += seconds
                wall_per += [w / s for w, s in zip(walls, seconds, strict=True)]
                cpu_per += [c / s for c, s in zip(cpus, seconds, strict=True)]
                longest.append((seconds[-1], walls[-1], cpus[-1]))
            rows.append((language, spoken, wall_per, cpu_per, longest))
        stop.set()
        await tick
        after_batch = memory()
        long_text = ((text_of("en", 1500) + " ") * 7)[:10_000]
        long_runs = []
        # First as the bot asks (max_seconds = MAX_VOICE_SECONDS: 60 s kept, the rest only
        # measured), then with no max_seconds: the engine's hard limit is all that bounds it.
        for max_seconds in (60, None):
            wall = time.perf_counter()
            try:
                await speech.speak(long_text, "en", folder / "long.wav", max_seconds=max_seconds)
            except SpeechTooLong as exc:
                outcome = f"{exc.seconds:.0f} s{'+' if exc.at_least else ''} > {exc.limit:g} s"
            else:
                outcome = "spoken whole"
            took = (time.perf_counter() - wall) * 1000
            long_runs.append((f"10,000 chars, max_seconds={max_seconds}", outcome, took, memory()))

    print()
    print("per second of speech (p50 / max over the texts):")
    for language, spoken, wall_per, cpu_per, longest in rows:
        per_char = statistics.median(s / n for s, n in zip(spoken, SIZES * repeat, strict=True))
        last = statistics.median(x[0] for x in longest)
        print(
            f"  {language:6} {sum(spoken) / repeat:7.1f} s of speech per batch"
            f" ({per_char * 1000:.0f} ms of speech per character)"
            f"   wall {percentile(wall_per, 50) * 1000:5.2f} / {max(wall_per) * 1000:5.2f} ms"
            f"   CPU {percentile(cpu_per, 50) * 1000:5.2f}"
            f" / {max(cpu_per) * 1000:5.2f} ms"
        )
        print(
            f"         1,500 characters: {last:5.1f} s of speech in"
            f" {statistics.median(x[1] for x in longest) * 1000:5.1f} ms wall,"
            f" {statistics.median(x[2] for x in longest) * 1000:5.1f} ms CPU"
        )
    print()
    print(
        f"event loop while speaking: {len(gaps)} ticks of 1 ms, longest gap"
        f" {max(gaps) * 1000:.1f} ms, p99 {percentile(gaps, 99) * 1000:.1f} ms"
    )
    print()
    print("memory (this process; + is over the figure before loading):")
    print(mem_line("before loading", base, base))
    print(mem_line("library loaded, voices listed", loaded, base))
    print(mem_line(f"after {2 * repeat * len(SIZES)} texts", after_batch, base))
    for label, outcome, took, after in long_runs:
        print(mem_line(label, after, base) + f"   [{outcome}, {took:.0f} ms]")
    await speech.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="batches per language")
    sys.exit(asyncio.run(main(parser.parse_args().repeat)))
