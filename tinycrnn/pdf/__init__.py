"""PDF in and out (the ``pdf`` extra): ``render`` opens PDFs and renders their pages for reading, ``write``
streams searchable PDFs (page image + invisible word-placed text), ``layout`` gives a read page's word boxes.
``import tinycrnn`` never imports this package; pypdfium2 loads only when a PDF is opened.
"""
