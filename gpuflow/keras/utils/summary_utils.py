"""Text of ``model.summary()``, character for character as Keras 3 prints it.

Keras 3 (``keras/src/utils/summary_utils.py``) builds a ``rich.table.Table`` and
prints it through a ``rich.console.Console``.  This module reproduces the text
that combination produces without depending on ``rich``: the column-width
arithmetic, rich's word wrapping / ellipsis truncation inside cells, the
heavy-head box characters, cropping at the console width, and (when stdout is a
terminal) the same ANSI colour codes.  The reference output it is tested
against was captured from Keras 3.15.1 / rich 15.0.0 (see
``tests/test_summary_format.py``).

The seed CNN prints, on an 80-column console or when piped::

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
    ├─────────────────────────────────┼────────────────────────┼───────────────┤
    ...
    └─────────────────────────────────┴────────────────────────┴───────────────┘
     Total params: 225,034 (879.04 KB)
     Trainable params: 225,034 (879.04 KB)
     Non-trainable params: 0 (0.00 B)

Layout rules (Keras 3):
  * Sequential-like models: columns "Layer (type)", "Output Shape", "Param #",
    default line length 88, positions (0.45, 0.80, 1.0).  Other functional
    models add "Connected to": 108, (0.3, 0.56, 0.74, 1.0).  ``show_trainable``
    adds a centred "Trainable" column: +12 characters, positions scaled by 0.9.
  * The default line length is ``min(default, terminal_columns - 4)`` where the
    terminal columns come from ``shutil.get_terminal_size()`` (80 when stdout
    is not a terminal), so piped output is 76 characters wide.
  * Column ``i`` gets ``int(pos[i] * L) - int(pos[i-1] * L)`` characters; rich
    then shrinks the padded columns evenly so the table with its borders is
    exactly ``L`` wide.
"""

import math
import os
import re
import shutil
import sys

__all__ = [
    "format_shape",
    "format_output_shapes",
    "readable_memory_size",
    "format_summary",
    "print_summary",
]

# --------------------------------------------------------------------------
# Small formatting helpers
# --------------------------------------------------------------------------


def format_shape(shape):
    """Formats one shape the way Keras's summary does.

    Args:
        shape: tuple/list of ``int`` or ``None`` (``None`` = unknown dim).

    Returns:
        ``"(None, 26, 26, 32)"``.  A rank-1 shape prints as ``"(None)"``
        (no trailing comma) and a scalar shape as ``"()"``, as in Keras.
    """
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in x
    )


def format_output_shapes(shapes):
    """Formats a layer's output shape(s) like Keras's ``format_layer_shape``.

    Args:
        shapes: a single shape tuple, or a list/tuple/dict of shape tuples
            (multi-output layers), or ``None`` for a layer that has not been
            built (printed as ``"?"``).

    Returns:
        ``"(None, 10)"`` for one shape; for several, Python's ``str`` of the
        structure with quotes removed, e.g. ``"[(None, 3), (None, 4)]"`` or
        ``"{a: (None, 3)}"``.
    """
    if shapes is None:
        return "?"
    if _is_shape(shapes):
        return format_shape(shapes)

    def conv(s):
        if _is_shape(s):
            return format_shape(s)
        if isinstance(s, dict):
            return {k: conv(v) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            return type(s)(conv(v) for v in s)
        return s

    out = conv(shapes)
    if isinstance(out, (list, tuple)) and len(out) == 1:
        return out[0]
    if isinstance(out, dict) and len(out) == 1:
        return next(iter(out.values()))
    return str(out).replace("'", "")


def readable_memory_size(num_bytes):
    """``1024``-based size with two decimals: ``"879.04 KB"``, ``"0.00 B"``.

    Same rule as Keras: divide by 1024 while the quotient is at least 1.
    """
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    for unit in units:
        if num_bytes / 1024 < 1:
            return "{:.2f} {}".format(num_bytes, unit)
        num_bytes /= 1024
    return "{:.2f} {}".format(num_bytes, units[-1])


# --------------------------------------------------------------------------
# Styled text (a minimal model of rich.text.Text: one style per character)
# --------------------------------------------------------------------------

# A style is (bold, color) with color an xterm-256 palette index or None.
_PLAIN = (False, None)
_BOLD = (True, None)
_NUMBER = (False, 34)  # Keras: [color(34)]
_NONE_DIM = (False, 45)  # Keras: None in a shape, [color(45)]
_SYMBOL = (False, 33)  # Keras: layer class name, [color(33)]
_YES = (True, 34)
_NO = (True, 9)

# rich's downgrade of these palette entries to the 16-colour ("standard") system.
_STANDARD_SGR = {33: "94", 34: "32", 45: "96", 9: "91"}


class _Text:
    """Characters plus one style per character."""

    __slots__ = ("chars", "styles")

    def __init__(self, chars="", styles=None):
        self.chars = chars
        self.styles = list(styles) if styles is not None else [_PLAIN] * len(chars)

    @classmethod
    def from_runs(cls, runs):
        chars, styles = [], []
        for text, style in runs:
            chars.append(text)
            styles.extend([style] * len(text))
        return cls("".join(chars), styles)

    def __len__(self):
        return len(self.chars)

    def slice(self, start, end):
        return _Text(self.chars[start:end], self.styles[start:end])

    def rstrip(self):
        n = len(self.chars) - len(self.chars.rstrip())
        if n:
            self.chars = self.chars[:-n]
            self.styles = self.styles[:-n]

    def rstrip_end(self, size):
        """Drop trailing whitespace beyond ``size`` characters."""
        if len(self) > size:
            excess = len(self) - size
            trailing = len(self.chars) - len(self.chars.rstrip())
            n = min(trailing, excess)
            if n:
                self.chars = self.chars[:-n]
                self.styles = self.styles[:-n]

    def truncate(self, width, overflow="ellipsis", pad=False):
        length = len(self)
        if length > width:
            if overflow == "ellipsis" and width > 0:
                # the ellipsis takes the style of the character it replaces
                self.chars = self.chars[:width - 1] + "…"
                self.styles = self.styles[:width]
            else:
                self.chars = self.chars[:width]
                self.styles = self.styles[:width]
        if pad and length < width:
            self.pad_right(width - length)

    def pad_left(self, n):
        if n > 0:
            self.chars = " " * n + self.chars
            self.styles = [_PLAIN] * n + self.styles

    def pad_right(self, n):
        if n > 0:
            self.chars += " " * n
            self.styles += [_PLAIN] * n

    def runs(self, base=_PLAIN):
        """Maximal runs of equally styled characters, with ``base`` applied."""
        out = []
        for ch, st in zip(self.chars, self.styles):
            style = (st[0] or base[0], st[1] if st[1] is not None else base[1])
            if out and out[-1][1] == style:
                out[-1][0] += ch
            else:
                out.append([ch, style])
        return [(t, s) for t, s in out]


_WORD = re.compile(r"\s*\S+\s*")


def _divide_line(text, width, fold):
    """Break offsets for word-wrapping ``text`` at ``width`` (rich's rule).

    A word carries the whitespace that follows it.  A word that does not fit
    the rest of the line starts a new line; a word longer than a whole line is
    either cropped later (``fold=False``) or chopped into ``width`` pieces.
    """
    breaks = []
    offset = 0
    for m in _WORD.finditer(text):
        start, word = m.start(), m.group(0)
        word_len = len(word.rstrip())
        if width - offset >= word_len:
            offset += len(word)
            continue
        if word_len > width:
            if fold:
                pieces = [word[i:i + width] for i in range(0, len(word), width)] or [word]
                for i, piece in enumerate(pieces):
                    if start:
                        breaks.append(start)
                    if i == len(pieces) - 1:
                        offset = len(piece)
                    else:
                        start += len(piece)
            else:
                if start:
                    breaks.append(start)
                offset = len(word)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def _wrap(text, width, justify, overflow="ellipsis"):
    """Wraps a ``_Text`` into lines of exactly ``width`` characters
    (``justify`` in left/center/right) or at most ``width`` (``None``)."""
    bounds = [0] + _divide_line(text.chars, width, fold=overflow == "fold") + [len(text)]
    lines = [text.slice(a, b) for a, b in zip(bounds, bounds[1:])] or [_Text()]
    for line in lines:
        line.rstrip_end(width)
    for line in lines:
        if justify == "left":
            line.truncate(width, overflow, pad=True)
        elif justify == "center":
            line.rstrip()
            line.truncate(width, overflow)
            line.pad_left((width - len(line)) // 2)
            line.pad_right(width - len(line))
        elif justify == "right":
            line.rstrip()
            line.truncate(width, overflow)
            line.pad_left(width - len(line))
    for line in lines:
        line.truncate(width, overflow)
    return lines


# --------------------------------------------------------------------------
# Cell markup (what Keras highlights in each column)
# --------------------------------------------------------------------------


def _name_cell(s):
    # "conv2d (Conv2D)": the class name in the last parentheses is a "symbol".
    if s.endswith(")") and " (" in s:
        i = s.rindex(" (")
        return _Text.from_runs([(s[:i + 2], _PLAIN), (s[i + 2:-1], _SYMBOL), (")", _PLAIN)])
    return _Text(s)


def _shape_cell(s):
    # every dimension inside parentheses: numbers green, None cyan
    runs, depth, pos = [], 0, 0
    for m in re.finditer(r"None|\d+|[()]", s):
        tok = m.group(0)
        if tok == "(":
            depth += 1
            continue
        if tok == ")":
            depth -= 1
            continue
        if depth > 0:
            runs.append((s[pos:m.start()], _PLAIN))
            runs.append((tok, _NONE_DIM if tok == "None" else _NUMBER))
            pos = m.end()
    runs.append((s[pos:], _PLAIN))
    return _Text.from_runs(runs)


def _params_cell(p):
    if isinstance(p, bool) or not isinstance(p, (int, str)):
        p = int(p)
    if isinstance(p, int):
        return _Text.from_runs([(f"{p:,}", _NUMBER)])
    m = re.match(r"[\d,]+", p)  # "0 (unbuilt)": only the number is highlighted
    if m:
        return _Text.from_runs([(m.group(0), _NUMBER), (p[m.end():], _PLAIN)])
    return _Text(p)


def _connections_cell(s):
    runs, pos = [], 0
    for m in re.finditer(r"\[(\d+)\]", s):
        runs.append((s[pos:m.start(1)], _PLAIN))
        runs.append((m.group(1), _NUMBER))
        pos = m.end(1)
    runs.append((s[pos:], _PLAIN))
    return _Text.from_runs(runs)


def _trainable_cell(t):
    # "Y" bold green, "N" bold red, "-" (layer without weights) bold
    if t is True or t == "Y":
        return _Text("Y", [_YES])
    if t is False or t == "N":
        return _Text("N", [_NO])
    text = "-" if t is None else str(t)
    return _Text(text, [_BOLD] * len(text))


# --------------------------------------------------------------------------
# Column widths (Keras's positions, then rich's fitting into the table width)
# --------------------------------------------------------------------------


def _ratio_reduce(total, ratios, maximums, values):
    ratios = [r if m else 0 for r, m in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return list(values)
    remaining = total
    out = []
    for ratio, maximum, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            d = min(maximum, round(ratio * remaining / total_ratio))
            out.append(value - d)
            remaining -= d
            total_ratio -= ratio
        else:
            out.append(value)
    return out


def _ratio_distribute(total, ratios):
    total_ratio = sum(ratios)
    remaining = total
    out = []
    for ratio in ratios:
        d = math.ceil(ratio * remaining / total_ratio) if total_ratio > 0 else remaining
        out.append(d)
        total_ratio -= ratio
        remaining -= d
    return out


def _keras_column_widths(line_length, positions):
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    return widths


def _fit_widths(column_widths, table_width):
    """Padded cell widths (content + 1 space each side) after rich fits the
    fixed-width columns into ``table_width`` minus the borders."""
    n = len(column_widths)
    max_width = table_width - (n + 1)
    if max_width < 1:
        return [0] * n
    widths = [min(w + 2, max_width) for w in column_widths]
    if sum(widths) > max_width:
        widths = _ratio_reduce(sum(widths) - max_width, [1] * n, widths, widths)
        widths = [min(w + 2, max(nw, 0)) for w, nw in zip(column_widths, widths)]
    if sum(widths) < max_width and any(widths):
        pad = _ratio_distribute(max_width - sum(widths), widths)
        widths = [w + p for w, p in zip(widths, pad)]
    return widths


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


_COLOR_SYSTEMS = (None, "mono", "standard", "256", "truecolor")


def _sgr(style, color_system):
    """SGR parameters for ``style`` ("" for none); ``"mono"`` keeps bold
    only (rich with ``NO_COLOR`` set)."""
    if color_system is None:
        return ""
    bold, color = style
    codes = []
    if bold:
        codes.append("1")
    if color is not None and color_system != "mono":
        if color < 8:
            codes.append(str(30 + color))
        elif color < 16:
            codes.append(str(90 + color - 8))
        elif color_system == "standard":
            codes.append(_STANDARD_SGR[color])
        else:
            codes.append(f"38;5;{color}")
    return ";".join(codes)


class _Line:
    """A printed line as (text, style) segments; knows its visible length."""

    def __init__(self):
        self.segments = []

    def add(self, text, style=_PLAIN):
        if text:
            self.segments.append((text, style))
        return self

    def extend_runs(self, runs):
        for text, style in runs:
            self.add(text, style)
        return self

    def crop(self, width):
        out, used = _Line(), 0
        for text, style in self.segments:
            if used >= width:
                break
            take = text[: width - used]
            out.add(take, style)
            used += len(take)
        return out

    def render(self, color_system):
        parts = []
        for text, style in self.segments:
            codes = _sgr(style, color_system)
            parts.append(f"\x1b[{codes}m{text}\x1b[0m" if codes else text)
        return "".join(parts)

    def __len__(self):
        return sum(len(t) for t, _ in self.segments)


def _text_lines(text, width):
    """``console.print`` of a one-line string: word-wrapped (folding words
    longer than a line) at the console width, no padding."""
    return [_Line().extend_runs(line.runs()) for line in _wrap(text, width, None, "fold")]


def _render_table(header, alignment, rows, widths):
    """Heavy-head table with a line between rows (rich ``box.HEAVY_HEAD``,
    ``show_lines=True``, padding (0, 1))."""
    out = []

    def border(left, fill, mid, right):
        return _Line().add(left + mid.join(fill * w for w in widths) + right)

    def row_lines(cells, is_header, vbar):
        wrapped = []
        for text, justify, w in zip(cells, alignment, widths):
            wrapped.append(_wrap(text, max(w - 2, 0), justify))
        height = max(len(c) for c in wrapped)
        cell_style = _BOLD if is_header else _PLAIN
        lines = []
        for i in range(height):
            line = _Line().add(vbar)
            for col, w in zip(wrapped, widths):
                # header cells sit at the bottom, body cells at the top
                k = i - (height - len(col)) if is_header else i
                if 0 <= k < len(col):
                    line.add(" ", cell_style)
                    line.extend_runs(col[k].runs(cell_style))
                    line.add(" ", cell_style)
                else:
                    line.add(" " * w, cell_style)
                line.add(vbar)
            lines.append(line)
        return lines

    out.append(border("┏", "━", "┳", "┓"))
    out += row_lines([_Text(h) for h in header], True, "┃")
    out.append(border("┡", "━", "╇", "┩"))
    for i, cells in enumerate(rows):
        if i:
            out.append(border("├", "─", "┼", "┤"))
        out += row_lines(cells, False, "│")
    out.append(border("└", "─", "┴", "┘"))
    return out


# --------------------------------------------------------------------------
# Terminal detection (what rich.console.Console decides for Keras)
# --------------------------------------------------------------------------


def _is_terminal(stream, environ):
    tty_compatible = environ.get("TTY_COMPATIBLE", "")
    if tty_compatible == "0":
        return False
    if tty_compatible == "1":
        return True
    force = environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:
        return False


def _is_dumb(environ):
    return environ.get("TERM", "").lower() in ("dumb", "unknown")


def _detect_color_system(stream, environ):
    """None, "standard", "256" or "truecolor", decided from the environment
    the way rich does on POSIX (COLORTERM, then the suffix of TERM)."""
    if not _is_terminal(stream, environ) or _is_dumb(environ):
        return None
    if environ.get("NO_COLOR", ""):
        return "mono"
    if environ.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return "truecolor"
    suffix = environ.get("TERM", "").strip().lower().rpartition("-")[2]
    return {"256color": "256", "kitty": "256", "16color": "standard"}.get(suffix, "standard")


def _console_width(environ, is_terminal):
    """Width rich uses to crop lines: the size of whichever of stdin, stdout,
    stderr is a terminal, overridden by $COLUMNS, else 80."""
    if is_terminal and _is_dumb(environ):
        return 80
    width = None
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
            break
        except (AttributeError, ValueError, OSError):
            pass
    columns = environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    return width or 80


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def _layout(rows, line_length, positions, show_trainable, sequential_like, terminal_columns):
    if sequential_like is None:
        ncols = len(rows[0]) - (1 if show_trainable else 0) if rows else 3
        sequential_like = ncols <= 3
    if sequential_like:
        default_line_length = 88
        positions = list(positions or [0.45, 0.80, 1.0])
        header = ["Layer (type)", "Output Shape", "Param #"]
        alignment = ["left", "left", "right"]
    else:
        default_line_length = 108
        positions = list(positions or [0.3, 0.56, 0.74, 1.0])
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        alignment = ["left", "left", "right", "left"]
    if show_trainable:
        default_line_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        alignment.append("center")
    if terminal_columns is None:
        terminal_columns = shutil.get_terminal_size().columns
    default_line_length = min(default_line_length, terminal_columns - 4)
    line_length = line_length or default_line_length
    return header, alignment, positions, line_length, sequential_like


def format_summary(
    model_name,
    rows,
    total_params,
    trainable_params,
    non_trainable_params,
    line_length=None,
    positions=None,
    show_trainable=False,
    optimizer_params=None,
    trainable_bytes=None,
    non_trainable_bytes=None,
    optimizer_bytes=None,
    sequential_like=None,
    color_system=None,
    console_width=80,
    terminal_columns=None,
):
    """Returns the summary text (ending in a newline) Keras 3 would print.

    Args:
        model_name: ``str``, printed as ``Model: "name"``.
        rows: sequence of tuples, one per layer, in display order:
            ``(name_and_type, output_shape, params)`` for sequential-like
            models or ``(name_and_type, output_shape, params, connected_to)``
            for functional models with branches; with ``show_trainable`` one
            more trailing element, ``"Y"``/``"N"``/``"-"`` (or
            ``True``/``False``/``None``).  ``name_and_type`` is
            ``"conv2d (Conv2D)"`` (nested rows in ``expand_nested`` carry
            the prefix ``"   " * level + "└ "``); ``output_shape`` is a string
            from ``format_output_shapes`` (``"?"`` if unknown); ``params`` an
            ``int`` (printed with thousands separators) or a string such as
            ``"0 (unbuilt)"``; ``connected_to`` e.g. ``"a[0][0], b[0][0]"``
            or ``"-"``.
        total_params: ``int``; Keras prints trainable + non-trainable +
            optimizer variables here.
        trainable_params, non_trainable_params: ``int`` counts.
        line_length: total table width in characters; default
            ``min(88 (108 for functional), terminal columns - 4)``, plus 12
            with ``show_trainable``.
        positions: relative right edges of the columns (fractions of
            ``line_length``); Keras defaults when ``None``.
        show_trainable: add the "Trainable" column.
        optimizer_params: ``int`` or ``None``; when given, an
            ``Optimizer params`` line is printed (Keras does so once the
            optimizer's variables exist, i.e. after the first ``fit`` step).
        trainable_bytes, non_trainable_bytes, optimizer_bytes: sizes in
            bytes; default 4 bytes (float32) per parameter.
        sequential_like: ``True``/``False``; ``None`` infers it from the
            number of elements in each row.
        color_system: ``None`` (plain text), ``"standard"``, ``"256"`` or
            ``"truecolor"``: the ANSI styling rich uses on a terminal;
            ``"mono"``: bold only (rich on a terminal with ``NO_COLOR`` set).
        console_width: lines longer than this are cropped (rich does this when
            ``line_length`` exceeds the console).
        terminal_columns: columns used for the default ``line_length``;
            ``None`` asks ``shutil.get_terminal_size()`` like Keras.

    Returns:
        ``str``.

    Raises:
        ValueError: ``"Insufficient console width to print summary."`` if a
            column would be narrower than 4 characters (Keras's message).
    """
    header, alignment, positions, line_length, sequential_like = _layout(
        rows, line_length, positions, show_trainable, sequential_like, terminal_columns
    )
    column_widths = _keras_column_widths(line_length, positions)
    widths = _fit_widths(column_widths, line_length)

    body = []
    for row in rows:
        row = tuple(row)
        cells = [_name_cell(str(row[0])), _shape_cell(str(row[1])), _params_cell(row[2])]
        i = 3
        if not sequential_like:
            cells.append(_connections_cell(str(row[3]) if len(row) > 3 else "-"))
            i = 4
        if show_trainable:
            cells.append(_trainable_cell(row[i] if len(row) > i else None))
        body.append(cells)

    out = _text_lines(_Text(f'Model: "{model_name}"', [_BOLD] * (len(model_name) + 9)), console_width)
    for line in _render_table(header, alignment, body, widths):
        out.append(line.crop(console_width) if len(line) > console_width else line)

    if trainable_bytes is None:
        trainable_bytes = 4 * trainable_params
    if non_trainable_bytes is None:
        non_trainable_bytes = 4 * non_trainable_params
    if optimizer_params is not None and optimizer_bytes is None:
        optimizer_bytes = 4 * optimizer_params
    total_bytes = trainable_bytes + non_trainable_bytes + (optimizer_bytes or 0)
    footer = [
        (" Total params: ", total_params, total_bytes),
        (" Trainable params: ", trainable_params, trainable_bytes),
        (" Non-trainable params: ", non_trainable_params, non_trainable_bytes),
    ]
    if optimizer_params is not None:
        footer.append((" Optimizer params: ", optimizer_params, optimizer_bytes))
    for label, count, nbytes in footer:
        text = _Text.from_runs(
            [(label, _BOLD), (f"{count:,}", _NUMBER), (f" ({readable_memory_size(nbytes)})", _PLAIN)]
        )
        out += _text_lines(text, console_width)

    if color_system not in _COLOR_SYSTEMS:
        raise ValueError(
            f"color_system must be one of {_COLOR_SYSTEMS}. Received: color_system={color_system!r}"
        )
    return "".join(line.render(color_system) + "\n" for line in out)


def print_summary(
    model_name,
    rows,
    total_params,
    trainable_params,
    non_trainable_params,
    print_fn=None,
    line_length=None,
    positions=None,
    show_trainable=False,
    optimizer_params=None,
    trainable_bytes=None,
    non_trainable_bytes=None,
    optimizer_bytes=None,
    sequential_like=None,
    stream=None,
):
    """Prints a model summary exactly as Keras 3's ``model.summary()`` does.

    Arguments are those of ``format_summary`` (see there for the row format),
    plus:

    Args:
        print_fn: if given, called **once** with the whole summary text
            (plain, no ANSI codes, ending in ``"\\n"``), as Keras 3 does.
        stream: where to write when ``print_fn`` is ``None``; default
            ``sys.stdout`` at call time.  When it is a terminal (``isatty()``,
            or ``FORCE_COLOR``/``TTY_COMPATIBLE=1``) the text carries the same
            ANSI bold/colour codes rich emits, chosen from ``COLORTERM`` and
            ``TERM``; otherwise it is plain.

    Returns:
        None.
    """
    environ = os.environ
    kwargs = dict(
        line_length=line_length,
        positions=positions,
        show_trainable=show_trainable,
        optimizer_params=optimizer_params,
        trainable_bytes=trainable_bytes,
        non_trainable_bytes=non_trainable_bytes,
        optimizer_bytes=optimizer_bytes,
        sequential_like=sequential_like,
    )
    if print_fn is not None:
        text = format_summary(
            model_name, rows, total_params, trainable_params, non_trainable_params,
            color_system=None, console_width=_console_width(environ, False), **kwargs,
        )
        print_fn(text)
        return
    if stream is None:
        stream = sys.stdout
    terminal = _is_terminal(stream, environ)
    text = format_summary(
        model_name, rows, total_params, trainable_params, non_trainable_params,
        color_system=_detect_color_system(stream, environ),
        console_width=_console_width(environ, terminal), **kwargs,
    )
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        stream.write(text.encode(encoding, errors="replace").decode(encoding))
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()
