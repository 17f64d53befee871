"""The corpus's list: (name, factory, per-sample input shape)."""

from . import cifar_resnets as r
from . import dense as d
from . import mobile as m
from . import plain as p

CIFAR = (3, 32, 32)
MNIST = (1, 28, 28)
IMAGENET = (3, 224, 224)

MODELS = [
    ("resnet20_option_a_lambda", r.resnet20_a, CIFAR),
    ("resnet32_option_a_lambda", r.resnet32_a, CIFAR),
    ("resnet18_shortcut_sequential", r.resnet18_b, CIFAR),
    ("resnet50_bottleneck", r.resnet50_b, CIFAR),
    ("resnet_relu_built_in_forward", r.resnet_forward_relu, CIFAR),
    ("preact_resnet_hasattr_shortcut", r.preact_resnet, CIFAR),
    ("wide_resnet_dropout", r.WideResNet, CIFAR),
    ("resnext_grouped", r.ResNeXt, CIFAR),
    ("tutorial_net", p.TutorialNet, CIFAR),
    ("tutorial_net_view", p.TutorialNetView, CIFAR),
    ("mnist_net_dropout2d", p.MnistNet, MNIST),
    ("lenet5_sequential", p.LeNet5, MNIST),
    ("vgg11_bn_cfg", p.vgg11_bn, CIFAR),
    ("vgg11_cfg", p.vgg11_plain, CIFAR),
    ("sequential_cnn", p.sequential_cnn, CIFAR),
    ("resnet9_sequential_residuals", p.ResNet9, CIFAR),
    ("all_conv_mean", p.AllConvNet, CIFAR),
    ("network_in_network", p.NiN, CIFAR),
    ("alexnet_imagenet", p.AlexNetSmall, IMAGENET),
    ("mlp_view", p.MLP, MNIST),
    ("sized_head", p.SizedHead, CIFAR),
    ("shape_branch", p.ShapeBranch, CIFAR),
    ("mobilenet_v1", m.MobileNet, CIFAR),
    ("mobilenet_v2_skipped_expand", m.MobileNetV2, CIFAR),
    ("shufflenet_int_c_over_g", m.ShuffleNet, CIFAR),
    ("squeezenet_imagenet", m.SqueezeNet, IMAGENET),
    ("senet_avg_pool_size", m.SENet, CIFAR),
    ("se_layer_expand_as", m.SEConvNet, CIFAR),
    ("googlenet_dropout2d", m.GoogLeNet, CIFAR),
    ("densenet_cat", d.DenseNetCat, CIFAR),
    ("densenet_add_module", d.DenseNetAddModule, CIFAR),
    ("spaced_container_names", d.SpacedNames, CIFAR),
    ("dual_path_net", d.DPN, CIFAR),
    ("imagenet_resnet_downsample", d.ImageNetResNet, IMAGENET),
    ("imagenet_vgg", d.ImageNetVGG, IMAGENET),
    ("ghost_like_slice", d.GhostLike, IMAGENET),
    ("leaky_hardswish_add", d.HighwayCNN, CIFAR),
]

from . import more as x  # noqa: E402

MODELS += [
    ("module_list_loop", x.ModuleListNet, CIFAR),
    ("lambda_module_sequential", x.lambda_sequential, MNIST),
    ("ordered_dict_sequential", x.ordered_dict_sequential, CIFAR),
    ("growing_feature_list", x.GrowingList, CIFAR),
    ("inplace_activations", x.InplaceResNet, CIFAR),
    ("spatial_mean_gate", x.AttentionPoolNet, IMAGENET),
    ("two_towers_shape_pool", x.TwoTowers, CIFAR),
    ("hand_written_hardswish", x.HardSwishSE, CIFAR),
]
MODELS += [("parameter_as_bias", x.ParamBias, CIFAR)]

from . import trees as t  # noqa: E402

# trees of blocks nested in trees whose instances differ in projection (a per-instance `downsample`
# passed through the enclosing tree, or built there where all its instances need it)
MODELS += [
    ("dla_trees_in_trees", t.TreeNet, CIFAR),
    ("dla_binary_trees", t.BinaryTreeNet, CIFAR),
    ("dla_binary_trees_three_levels", t.binary_tree_net_deeper, CIFAR),
]
