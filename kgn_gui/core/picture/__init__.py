"""Pictures, drawn without Qt: chain states as an image mosaic (render), a 1-D or 2-D network over its whole
input box — the Points view's picture (points), and a training set's 2-D map with chains' paths over it
(projection). The window shows them; the exports write them."""
