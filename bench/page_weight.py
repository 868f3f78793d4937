"""The signup page's weight in production, and whether its form works with no JavaScript at all."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.scenarios import signup_fields
from signup_app.web import routes
from tests.harness.server import AppServer
from tests.harness.wire import post_form

# Module specifiers inside inline scripts: import("/assets/x.js") or from "/assets/x.js".
_INLINE_IMPORT = re.compile(r"""(?:import\s*\(\s*|from\s*|import\s+)["']([^"']+\.m?js)["']""")


class _ScriptRefs(HTMLParser):
    """The JavaScript files an HTML page makes the browser fetch, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self._inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.refs.append(a["src"] or "")
            else:
                self._inline = True
        elif tag == "link" and (a.get("rel") or "").lower() in {"modulepreload", "preload"}:
            href = a.get("href") or ""
            if (a.get("rel") or "").lower() == "modulepreload" or href.endswith((".js", ".mjs")):
                self.refs.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inline = False

    def handle_data(self, data: str) -> None:
        if self._inline:
            self.refs += _INLINE_IMPORT.findall(data)


def script_refs(html: str) -> list[str]:
    """Every script path the page references (script src, modulepreload, inline imports), once each."""
    parser = _ScriptRefs()
    parser.feed(html)
    parser.close()
    return list(dict.fromkeys(parser.refs))


def javascript_weight(client_dir: Path) -> dict[str, Any]:
    """Raw and gzip -9 bytes of the JavaScript the built index.html references."""
    html = (client_dir / "index.html").read_text()
    files = []
    for ref in script_refs(html):
        path = client_dir / urlsplit(ref).path.lstrip("/")
        data = path.read_bytes()
        files.append({"file": ref, "raw": len(data), "gzip9": len(gzip.compress(data, compresslevel=9))})
    files.sort(key=lambda f: -f["gzip9"])
    return {
        "html": str(client_dir / "index.html"),
        "files": len(files),
        "raw_bytes": sum(f["raw"] for f in files),
        "gzip9_bytes": sum(f["gzip9"] for f in files),
        "by_file": files,
    }


async def form_without_javascript(server: AppServer) -> dict[str, Any]:
    """The prerendered page has a posting form; a plain form POST of its fields signs up (303)."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = (await http.get("/")).text
        response = await post_form(http, server, signup_fields("bench-nojs"))
    tag = form_tag.group(0) if (form_tag := re.search(r"<form\b[^>]*>", page)) else ""
    prerendered = 'method="post"' in tag and f'action="{routes.SIGNUP_FORM}"' in tag
    location = response.headers.get("location")
    return {
        "prerendered_form": prerendered,
        "form_inputs": sorted(set(re.findall(r'<input\b[^>]*\bname="([^"]+)"', page))),
        "post_status": response.status_code,
        "post_location": location,
        "works": prerendered and response.status_code == 303 and location == routes.ACCOUNT,
    }
