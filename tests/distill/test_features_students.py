"""Forward-hook features (BERT layers, ResNet stages) and the student builders."""

import pytest
import torch

from hfcompress.distill.config import StudentConfig
from hfcompress.distill.distiller import uniform_layer_map, validate_layer_map
from hfcompress.distill.features import FeatureRecorder, layer_paths, pooler_path
from hfcompress.distill.students import build_student, every_kth, layer_subset_student, tinybert_student
from hfcompress.errors import ConfigError
from tests.distill.util import tiny_teacher
from tests.helpers import tiny_resnet


def test_hooks_capture_bert_layers_and_resnet_stages():
    bert = tiny_teacher()
    paths = layer_paths(bert)
    assert paths == [f"bert.encoder.layer.{i}" for i in range(4)]
    rec = FeatureRecorder(bert, paths + [pooler_path(bert)])
    bert(input_ids=torch.randint(5, 100, (2, 6)))
    assert rec.get(paths[-1]).shape == (2, 6, 32) and rec.get("bert.pooler").shape == (2, 32)
    rec.remove()

    resnet = tiny_resnet()
    stages = layer_paths(resnet)
    assert stages == ["resnet.encoder.stages.0", "resnet.encoder.stages.1"]
    rec = FeatureRecorder(resnet, stages + [pooler_path(resnet)])
    out = resnet(pixel_values=torch.randn(2, 3, 32, 32), output_hidden_states=True)
    assert torch.equal(rec.get(stages[1]), out.hidden_states[-1])  # the hook sees what the model reports
    assert rec.get("resnet.pooler").shape == (2, 16, 1, 1)


def test_unknown_module_path_is_a_config_error():
    with pytest.raises(ConfigError, match="has no module 'bert.encoder.layer.9'"):
        FeatureRecorder(tiny_teacher(), ["bert.encoder.layer.9"])


def test_layer_maps():
    assert uniform_layer_map(3, 6) == [[0, 1], [1, 3], [2, 5]]
    assert uniform_layer_map(4, 6) == [[0, 1], [1, 2], [2, 4], [3, 5]]
    validate_layer_map([[0, 5]], 3, 6, "x")
    with pytest.raises(ConfigError, match=r"x\[1\]: teacher layer 6 does not exist \(teacher has 6 layers\)"):
        validate_layer_map([[0, 1], [1, 6]], 3, 6, "x")
    with pytest.raises(ConfigError, match="student layer 3 does not exist"):
        validate_layer_map([[3, 1]], 3, 6, "x")


def test_distilbert_student_copies_the_chosen_layers():
    teacher = tiny_teacher()
    assert every_kth(6, 2) == [1, 3, 5]
    student = layer_subset_student(teacher, [1, 3])
    assert student.config.num_hidden_layers == 2
    assert torch.equal(student.bert.encoder.layer[1].output.dense.weight, teacher.bert.encoder.layer[3].output.dense.weight)
    assert torch.equal(student.bert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight)
    assert torch.equal(student.classifier.weight, teacher.classifier.weight)
    # keeping every layer reproduces the teacher exactly
    full = layer_subset_student(teacher, [0, 1, 2, 3]).eval()
    ids = torch.randint(5, 100, (2, 6))
    assert torch.allclose(full(input_ids=ids).logits, teacher(input_ids=ids).logits, atol=1e-6)
    with pytest.raises(ConfigError, match="do not exist"):
        layer_subset_student(teacher, [1, 4])


def test_tinybert_student_is_narrow_and_fresh():
    teacher = tiny_teacher()
    student = tinybert_student(teacher, 2, hidden_size=16, intermediate_size=32, num_attention_heads=4,
                               embedding_init="teacher_svd")
    assert (student.config.num_hidden_layers, student.config.hidden_size, student.config.intermediate_size) == (2, 16, 32)
    assert student.bert.embeddings.word_embeddings.weight.shape == (200, 16)
    assert student(input_ids=torch.randint(5, 100, (2, 6))).logits.shape == (2, 2)
    with pytest.raises(ConfigError, match="hidden_size: 18 is not divisible by num_attention_heads 4"):
        tinybert_student(teacher, 2, hidden_size=18, num_attention_heads=4)
    with pytest.raises(ConfigError, match="num_layers: 5 is more than the teacher's 4"):
        build_student(StudentConfig(kind="tinybert", num_layers=5), teacher, None)


def test_eager_attention_is_switched_on_for_attention_maps_and_back():
    from hfcompress.distill.features import use_eager_attention

    model = tiny_teacher()
    before = use_eager_attention(model)
    out = model(input_ids=torch.randint(5, 100, (1, 5)), output_attentions=True)
    assert out.attentions is not None and out.attentions[0].shape == (1, 4, 5, 5)  # both transformers lines
    if before is not None:  # transformers 5.x switches at runtime; 4.x falls back per call
        use_eager_attention(model, before)
        assert model.config._attn_implementation == before
