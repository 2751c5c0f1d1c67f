"""The layout of a plan's text: title, axes, objectives, their context paragraphs and bullets (wrapped or not).

Supported headings (docs/plan-import.md has examples):
- axes: "I. TITRE" (a Roman numeral, a separator, an uppercase title, or any title when it is the next
  numeral), "AXE 1 – Titre" / "Axe II : Titre" (the keyword makes any case and Arabic numbers fine);
- objectives: "A | TITRE", "B I TITRE" (the bar read back as an I), "E TITRE" (separator lost), "A. Titre"
  (a separator and the next letter), "Objectif A : Titre", "Objectif 2 – Titre", "1.2 Titre" (axis 1).
Bullets start with a dash or a bullet sign, "1)" or "a)", or with "La Ville" when the extraction lost the dash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from services.commitments.plans.reading.model import PlanTextError

_SEPARATOR = r"[.)\-–—:|]"
_AXIS_KEYWORD = re.compile(
    rf"^(?:AXE|Axe|axe)\s+(?P<number>[IVXLC]+|\d{{1,2}})\b\s*(?:{_SEPARATOR}\s*)?(?P<title>.*)$"
)
_AXIS_ROMAN = re.compile(rf"^(?P<number>[IVXLC]+)\s*{_SEPARATOR}\s*(?P<title>\S.*)$")
_OBJECTIVE_KEYWORD = re.compile(
    rf"^(?:OBJECTIF|Objectif|objectif)(?:\s+(?:op[ée]rationnel|strat[ée]gique|OP[ÉE]RATIONNEL|STRAT[ÉE]GIQUE))?"
    rf"\s+(?:(?P<axis>[IVXLC]+|\d{{1,2}})\.)?(?P<letter>[A-Z]|\d{{1,2}})\b\s*(?:{_SEPARATOR}\s*)?(?P<title>\S.*)$"
)
_OBJECTIVE_NUMBERED = re.compile(
    rf"^(?P<axis>[IVXLC]+|\d{{1,2}})\.(?P<letter>\d{{1,2}})\.?\s*(?:{_SEPARATOR}\s*)?(?P<title>\S.*)$"
)
# "A | TITRE", "B I TITRE" (the bar read back as an I), "E TITRE" (separator lost), "A. Titre".
_OBJECTIVE_LETTER = re.compile(
    r"^(?P<letter>[A-Z])(?P<separator>\s*[|.):\-–—]\s*|\s+I\s+|\s+)(?P<title>\S.*)$"
)
_BULLET = re.compile(r"^(?:[-–—•▪◦●■□➢➤►✓*]|o(?=\s)|\d{1,2}[.)]|[a-z]\))\s+(?=\S)")
_CITY_SENTENCE = re.compile(
    r"^(?:La|Le|L')\s*(?:Ville|ville|Commune|commune|Municipalité|municipalité|Mairie)\b"
)
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def _number_value(number: str) -> int:
    if number.isdigit():
        return int(number)
    values = [_ROMAN_VALUES[char] for char in number]
    return sum(
        -value if value < following else value
        for value, following in zip(values, [*values[1:], 0], strict=True)
    )


def _is_uppercase_title(text: str) -> bool:
    return sum(char.isalpha() for char in text) >= 3 and text == text.upper()


def _is_title(text: str) -> bool:
    return sum(char.isalpha() for char in text) >= 3 and text[:1].isupper()


@dataclass
class ObjectiveDraft:
    letter: str
    title: str
    paragraphs: list[list[str]] = field(default_factory=list)
    bullets: list[tuple[list[str], list[str]]] = field(default_factory=list)  # (lines, layout warnings)


@dataclass
class AxisDraft:
    number: str
    title: str
    objectives: list[ObjectiveDraft] = field(default_factory=list)


class PlanLayoutReader:
    """Reads a plan line by line into drafts of axes, objectives and bullets."""

    def __init__(self) -> None:
        self.title: str | None = None
        self.axes: list[AxisDraft] = []
        self.previous: Literal["blank", "heading", "bullet", "other"] = "blank"
        self._awaiting_title: AxisDraft | ObjectiveDraft | None = None

    @property
    def objective(self) -> ObjectiveDraft | None:
        return self.axes[-1].objectives[-1] if self.axes and self.axes[-1].objectives else None

    def read(self, line_number: int, line: str) -> None:
        stripped = line.strip()
        previous, self.previous = self.previous, "other"
        if not stripped:
            self.previous = "blank" if previous != "heading" or self._awaiting_title is None else "heading"
            return
        if self._awaiting_title is not None:  # "AXE 2" alone: its title is the next line
            self._awaiting_title.title, self._awaiting_title = stripped, None
            self.previous = "heading"
            return
        if self.title is None:
            self.title = stripped
            # Without a title line the plan opens on its first axis.
            if self._read_heading(line_number, stripped, continuing=False):
                self.previous = "heading"
            return
        if bullet := _BULLET.match(stripped):
            if not self._read_heading(line_number, stripped, continuing=False):
                self._add_bullet(line_number, stripped[bullet.end() :])
            else:
                self.previous = "heading"
        elif self._read_heading(line_number, stripped, continuing=previous == "heading"):
            self.previous = "heading"
        elif (objective := self.objective) is None:
            pass  # an introduction to the plan or to an axis: the model has no place for it
        elif _CITY_SENTENCE.match(stripped) and not stripped.endswith(":"):
            self._add_bullet(line_number, stripped)  # its dash was lost in the extraction
        elif previous == "bullet" and (stripped[0].islower() or line[:2].isspace() or line.startswith("\t")):
            objective.bullets[-1][0].append(stripped)  # a bullet wrapped onto the next line
            self.previous = "bullet"
        else:
            if previous == "bullet":
                quoted = f"« {stripped[:40]}… »"
                objective.bullets[-1][1].append(
                    f"ligne {line_number} {quoted} lue comme du contexte : "
                    "vérifier qu'elle ne prolonge pas cette puce"
                )
            if previous == "other" and objective.paragraphs:
                objective.paragraphs[-1].append(stripped)
            else:
                objective.paragraphs.append([stripped])

    def _read_heading(self, line_number: int, stripped: str, continuing: bool) -> bool:
        """Open the axis or objective `stripped` announces, or extend the heading it wraps from."""
        next_axis = len(self.axes) + 1
        next_letter = self._next_letter()
        if keyword := _AXIS_KEYWORD.match(stripped):
            return self._open_axis(line_number, keyword["number"], keyword["title"].strip())
        if (keyword := _OBJECTIVE_KEYWORD.match(stripped)) or (
            keyword := _OBJECTIVE_NUMBERED.match(stripped)
        ):
            return self._open_objective(
                line_number, keyword["letter"], keyword["title"].strip(), keyword["axis"]
            )
        axis, objective = _AXIS_ROMAN.match(stripped), _OBJECTIVE_LETTER.match(stripped)
        if axis and not (
            _is_uppercase_title(axis["title"])
            or (_number_value(axis["number"]) == next_axis and _is_title(axis["title"]))
        ):
            axis = None
        if objective and not (self.axes and self._is_objective_line(objective, next_letter)):
            objective = None  # before the first axis, such a line belongs to the introduction
        expected_objective = objective is not None and objective["letter"] == next_letter
        expected_axis = axis is not None and _number_value(axis["number"]) == next_axis
        if continuing and _is_uppercase_title(stripped) and not (expected_axis or expected_objective):
            heading = self.objective or self.axes[-1]  # a long uppercase title wrapped onto the next line
            heading.title = f"{heading.title} {stripped}"
            return True
        # "C. TITRE" reads as axis C (100) or objective C: the expected objective letter settles it.
        if axis and not (expected_objective and len(axis["number"]) == 1):
            return self._open_axis(line_number, axis["number"], axis["title"].strip())
        if objective:
            return self._open_objective(line_number, objective["letter"], objective["title"].strip(), None)
        return False

    def _next_letter(self) -> str:
        objective = self.objective
        if objective is None:
            return "A"
        return (
            str(int(objective.letter) + 1) if objective.letter.isdigit() else chr(ord(objective.letter) + 1)
        )

    @staticmethod
    def _is_objective_line(match: re.Match[str], next_letter: str) -> bool:
        if _is_uppercase_title(match["title"]):
            return True
        # "A. Améliorer le cadre de vie": a mixed-case title needs a real separator and the expected letter.
        return (
            match["letter"] == next_letter
            and match["separator"].strip() in set("|.):-–—")
            and _is_title(match["title"])
        )

    def _open_axis(self, line_number: int, number: str, title: str) -> bool:
        if any(_number_value(axis.number) == _number_value(number) for axis in self.axes):
            raise PlanTextError(f"ligne {line_number} : l'axe {number} apparaît deux fois")
        self.axes.append(AxisDraft(number, title))
        self._awaiting_title = self.axes[-1] if not title else None
        return True

    def _open_objective(self, line_number: int, letter: str, title: str, axis_number: str | None) -> bool:
        if not self.axes:
            raise PlanTextError(f"ligne {line_number} : objectif « {letter} » avant tout axe")
        axis = self.axes[-1]
        if axis_number is not None and _number_value(axis_number) != _number_value(axis.number):
            raise PlanTextError(
                f"ligne {line_number} : objectif « {axis_number}.{letter} » sous l'axe {axis.number}"
            )
        if any(objective.letter == letter for objective in axis.objectives):
            raise PlanTextError(
                f"ligne {line_number} : l'objectif {letter} apparaît deux fois dans l'axe {axis.number}"
            )
        axis.objectives.append(ObjectiveDraft(letter, title))
        return True

    def _add_bullet(self, line_number: int, text: str) -> None:
        if self.objective is None:
            raise PlanTextError(f"ligne {line_number} : puce hors de tout objectif (« {text[:60]} »)")
        self.objective.bullets.append(([text], []))
        self.previous = "bullet"

    def finish(self) -> list[AxisDraft]:
        if self.title is None or not self.axes:
            raise PlanTextError("aucun axe (« I. TITRE » ou « AXE 1 – Titre ») trouvé dans le texte du plan")
        return self.axes
