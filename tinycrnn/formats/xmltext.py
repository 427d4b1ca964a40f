"""Text and attribute escaping shared by the XML writers (hOCR, ALTO)."""
import re
from xml.sax.saxutils import escape, quoteattr

# XML 1.0 forbids these code points outright, even escaped
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` escaped for element content."""
    return escape(_BAD.sub("", text))


def xml_attr(text: str) -> str:
    """``text`` as a quoted attribute value (quotes included)."""
    return quoteattr(_BAD.sub("", text).replace("\n", " ").replace("\t", " "))
